// Supervisor overview: queue length, longest wait, agents online and their load, live; for
// supervisors and managers also the record of staff opening customers' data and the failed
// identity checks.
// Requests made by timers and live events say so (X-Console-Background): they do not keep the
// session alive, so an unattended overview logs out after the idle time like any page.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const REASONS = {
    request_human: "客户要求转人工",
    fallback: "机器人多次未听懂",
    complaint: "投诉",
    action_failure: "系统处理失败",
    rasa_timeout: "机器人无响应",
    safety_hazard: "安全隐患（紧急）",
    agent_initiated: "坐席发起",
  };
  const AVAILABILITY = { available: "在线接待", away: "暂离", offline: "离线" };
  const PRIORITIES = { urgent: "紧急", high: "高", normal: "普通" };
  const KINDS = {
    transcript: "会话记录",
    customer: "客户资料",
    customer_record: "客户档案",
    inbox_context: "意图样本上下文",
  };
  const ROLES = {
    agent: "坐席",
    supervisor: "值班长",
    manager: "站长",
    operator: "运维",
    dispatcher: "调度",
    crew: "抢修班组",
    clerk: "营业员",
  };
  const SESSION_ENDED = 4401; // the websocket's close code when the session is over
  const STATION = ["supervisor", "manager"].includes(document.body.dataset.role);
  let backoff = 1000;
  let timer = null;

  function waited(seconds) {
    if (seconds < 60) return seconds + " 秒";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " 分钟";
    return Math.floor(minutes / 60) + " 小时 " + (minutes % 60) + " 分";
  }

  function row(...cells) {
    const tr = document.createElement("tr");
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = String(text);
      tr.append(td);
    }
    return tr;
  }

  // once the logout is submitted nothing runs in the background: a request racing the logout
  // would be answered 401 while the page leaves
  let leaving = false;
  document.querySelector("form.logout")?.addEventListener("submit", () => { leaving = true; });

  // the response, or null (after sending the page to the login when the session is over)
  async function get(path) {
    if (leaving) return null;
    const response = await fetch("/api/v1/agent/" + path, {
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-Console-Background": "1" },
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      return null;
    }
    return response;
  }

  async function refresh() {
    const response = await get("supervisor/overview");
    if (!response || !response.ok) return;
    const data = await response.json();
    $("queue-length").textContent = String(data.queue_length);
    $("longest-wait").textContent = data.queue_length ? waited(data.longest_wait_seconds) : "—";
    $("agents-online").textContent = String(data.agents_online);
    $("assigned-chats").textContent = String(data.assigned_chats);
    $("agents").replaceChildren(
      ...data.agents.map((a) => row(a.display_name, AVAILABILITY[a.availability] || a.availability, a.assigned + " / " + a.max_chats))
    );
    $("queue").replaceChildren(
      ...data.queue.map((h) => row(h.conversation_label, REASONS[h.reason] || h.reason, PRIORITIES[h.priority] || h.priority, waited(h.waiting_seconds)))
    );
    await refreshAccessLog();
    await refreshFailures();
  }

  // failed identity checks (supervisors and managers): is somebody spraying guesses?
  async function refreshFailures() {
    if (!STATION) return; // operators may not read it (a 403 would be a console error)
    const response = await get("supervisor/verification-failures?limit=50");
    if (!response) return;
    $("failures-section").hidden = !response.ok; // operators may not read it (403)
    if (!response.ok) return;
    const data = await response.json();
    const when = (iso) => new Date(iso).toLocaleString("zh-CN");
    const minutes = Math.round((Date.now() - new Date(data.since).getTime()) / 60000);
    $("failures-window").textContent = waited(minutes * 60);
    $("failures-summary").textContent =
      "失败 " + data.failures + " 次（全所上限 " + data.station_limit + "），退避期间被拒 " + data.throttled + " 次";
    const spot = (s) => row(s.key, s.failures, when(s.latest));
    $("failures-by-client").replaceChildren(...data.by_client.map(spot));
    $("failures-by-account").replaceChildren(...data.by_account.map(spot));
    $("failures").replaceChildren(
      ...data.latest.map((a) =>
        row(when(a.at), a.conversation, a.account || "—", a.client_address || "—", a.throttled ? "退避中被拒" : "不匹配")
      )
    );
  }

  async function refreshAccessLog() {
    if (!STATION) return; // operators may not read it
    const response = await get("supervisor/access-log?limit=50");
    if (!response || !response.ok) return;
    $("access-section").hidden = false;
    const data = await response.json();
    $("access").replaceChildren(
      ...data.entries.map((e) =>
        row(
          new Date(e.at).toLocaleString("zh-CN"),
          e.username + "（" + (ROLES[e.role] || e.role) + "）",
          KINDS[e.kind] || e.kind,
          e.conversation_label,
          e.account_no || "—",
          e.client_address,
          e.allowed ? "允许" : "拒绝"
        )
      )
    );
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/console/ws");
    socket.addEventListener("open", () => {
      backoff = 1000;
      $("live").textContent = "实时连接正常";
      $("live").dataset.state = "ok";
      soon();
    });
    socket.addEventListener("message", soon);
    socket.addEventListener("close", (event) => {
      if (event.code === SESSION_ENDED) {
        window.location.assign("/console/login"); // logged out, idle or past the shift
        return;
      }
      $("live").textContent = "实时连接已断开，正在重连…";
      $("live").dataset.state = "down";
      // a refused handshake (session gone) has no code: the API's 401 sends us to the login
      setTimeout(() => get("supervisor/overview").then((r) => r && connect(), connect), backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  refresh();
  connect();
  setInterval(refresh, 15000);
})();
