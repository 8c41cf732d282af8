// Supervisor overview: queue length, longest wait, agents online and their load, live.
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

  async function refresh() {
    const response = await fetch("/api/v1/agent/supervisor/overview", {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      return;
    }
    if (!response.ok) return;
    const data = await response.json();
    $("queue-length").textContent = String(data.queue_length);
    $("longest-wait").textContent = data.queue_length ? waited(data.longest_wait_seconds) : "—";
    $("agents-online").textContent = String(data.agents_online);
    $("assigned-chats").textContent = String(data.assigned_chats);
    $("agents").replaceChildren(
      ...data.agents.map((a) => row(a.display_name, AVAILABILITY[a.availability] || a.availability, a.assigned + " / " + a.max_chats))
    );
    $("queue").replaceChildren(
      ...data.queue.map((h) => row(h.conversation_id, REASONS[h.reason] || h.reason, PRIORITIES[h.priority] || h.priority, waited(h.waiting_seconds)))
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
    socket.addEventListener("close", () => {
      $("live").textContent = "实时连接已断开，正在重连…";
      $("live").dataset.state = "down";
      setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30000);
    });
  }

  if (document.body.dataset.role === "supervisor") $("agent-link").hidden = false;
  if (document.body.dataset.role === "operator") $("nlu-link").hidden = false;
  refresh();
  connect();
  setInterval(refresh, 15000);
})();
