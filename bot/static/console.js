// Agent console: plain ES2020, no framework, no build step. API: docs/agents.md.
// Customer, bot and agent text is only ever inserted with textContent (the page's CSP
// enforces Trusted Types: an HTML-string sink would be refused anyway).
"use strict";

(() => {
  const REASONS = {
    request_human: "客户要求转人工",
    fallback: "机器人多次未听懂",
    complaint: "投诉",
    action_failure: "系统处理失败",
    rasa_timeout: "机器人无响应",
    safety_hazard: "安全隐患（紧急）",
    agent_initiated: "坐席发起",
  };
  const SENDERS = { customer: "客户", bot: "机器人", agent: "坐席", system: "系统" };
  const PRIORITIES = { urgent: "紧急", high: "高", normal: "普通" };
  const CHANNELS = { telegram: "Telegram", web: "网页", api: "接口" };
  const MAX_BACKOFF_MS = 30000;
  const SESSION_ENDED = 4401; // the websocket's close code when the session is over

  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const role = document.body.dataset.role;
  const maxLength = Number(document.body.dataset.maxLength) || 2000;

  const state = {
    queue: [],
    mine: [],
    selected: null, // {conversation (its handle), label, handoff_id, mine}
    agents: [],
    canned: [],
    socket: null,
    backoff: 1000,
    reloadTimer: null,
    flagged: new Set(), // bot replies this page marked as wrong (kept across reloads)
  };

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function notice(text) {
    const box = $("notice");
    box.textContent = text;
    box.hidden = !text;
    if (text) setTimeout(() => { if (box.textContent === text) box.hidden = true; }, 6000);
  }

  // once the logout is submitted nothing runs in the background: a request racing the logout
  // would be answered 401 while the page leaves
  let leaving = false;
  document.querySelector("form.logout")?.addEventListener("submit", () => { leaving = true; });

  // Conversations are named by handle (item.conversation) and masked id (conversation_label),
  // never by their id. background: a request nobody clicked for (timers, live events): it
  // does not keep the session alive, so an unattended console logs out after the idle time.
  async function api(method, path, body, background) {
    if (background && leaving) throw new Error("logged out");
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (background) options.headers["X-Console-Background"] = "1";
    if (method !== "GET") {
      options.headers["X-CSRF-Token"] = csrf;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch("/api/v1/agent/" + path, options);
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("logged out");
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || "请求失败 (" + response.status + ")";
      const error = new Error(message);
      error.status = response.status;
      error.code = data.error && data.error.code;
      throw error;
    }
    return data;
  }

  function waited(seconds) {
    if (seconds < 60) return seconds + " 秒";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " 分钟";
    return Math.floor(minutes / 60) + " 小时 " + (minutes % 60) + " 分";
  }

  function time(iso) {
    if (!iso) return "";
    const date = new Date(iso);
    return date.toLocaleTimeString("zh-CN", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  }

  // --- lists ------------------------------------------------------------------------------

  function renderList(target, items, mine) {
    const nodes = items.map((item) => {
      const li = el("li", null, "item");
      const button = el("button", null, "item-button");
      button.type = "button";
      button.dataset.conversation = String(item.conversation);
      button.dataset.handoff = String(item.id);
      if (state.selected && state.selected.conversation === item.conversation) {
        button.setAttribute("aria-current", "true");
      }
      const head = el("span", (CHANNELS[item.channel] || item.channel) + " · " + item.conversation_label, "item-title");
      const reason = el("span", REASONS[item.reason] || item.reason, "item-reason");
      const meta = el("span", mine ? "已接入" : "已等待 " + waited(item.waiting_seconds), "item-meta");
      if (item.priority !== "normal") {
        head.prepend(el("span", PRIORITIES[item.priority] || item.priority, "badge badge-" + item.priority));
      }
      button.append(head, reason, meta);
      if (item.last_customer_text) button.append(el("span", item.last_customer_text, "item-last"));
      button.addEventListener("click", () => select(item, mine));
      li.append(button);
      return li;
    });
    target.replaceChildren(...nodes);
  }

  async function refreshLists(background) {
    try {
      const [queue, me] = await Promise.all([api("GET", "queue", null, background), api("GET", "me", null, background)]);
      state.queue = queue.queue;
      state.mine = me.chats;
      $("availability").value = me.availability === "available" ? "available" : "away";
      $("queue-count").textContent = String(state.queue.length);
      $("mine-count").textContent = String(state.mine.length);
      renderList($("queue"), state.queue, false);
      renderList($("mine"), state.mine, true);
      if (state.selected) {
        const own = state.mine.find((h) => h.conversation === state.selected.conversation);
        const queued = state.queue.find((h) => h.conversation === state.selected.conversation);
        const item = own || queued;
        state.selected.mine = Boolean(own);
        state.selected.handoff_id = item ? item.id : null;
        showControls();
      }
    } catch (error) {
      notice(error.message);
    }
  }

  // --- the selected chat ------------------------------------------------------------------

  function showControls() {
    const sel = state.selected;
    const mine = Boolean(sel && sel.mine);
    $("chat-actions").hidden = !mine;
    $("reply-form").hidden = !mine;
    $("notes-section").hidden = !mine;
    $("claim").hidden = !(sel && !mine && sel.handoff_id && state.queue.some((h) => h.id === sel.handoff_id));
  }

  async function select(item, mine) {
    state.selected = { conversation: item.conversation, label: item.conversation_label, handoff_id: item.id, mine };
    $("chat-title").textContent = (CHANNELS[item.channel] || item.channel) + " · " + item.conversation_label;
    for (const button of document.querySelectorAll(".item-button")) {
      if (button.dataset.conversation === String(item.conversation)) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    }
    showControls();
    await Promise.all([loadTranscript(), loadCustomer()]);
  }

  function messageNode(message) {
    const li = el("li", null, "msg msg-" + message.sender);
    const head = el("div", null, "msg-head");
    head.append(el("span", SENDERS[message.sender] || message.sender, "msg-sender"));
    head.append(el("time", time(message.at), "msg-time"));
    if (message.sender === "customer" && message.intent) {
      const confidence = typeof message.confidence === "number" ? " " + Math.round(message.confidence * 100) + "%" : "";
      head.append(el("span", message.intent + confidence, "msg-intent"));
    }
    if (message.sender === "bot" && message.id) head.append(flagButton(message));
    li.append(head, el("div", message.text, "msg-text"));
    if (message.buttons && message.buttons.length) {
      li.append(el("div", "按钮：" + message.buttons.join(" / "), "msg-buttons"));
    }
    return li;
  }

  // "答错了": the bot misunderstood; the customer's question goes to the NLU inbox, where
  // operators label it for the next training (POST /api/v1/agent/flag).
  function flagButton(message) {
    const button = el("button", "答错了", "msg-flag");
    button.type = "button";
    button.title = "机器人这条回复答错了：把客户的问题交给运维改进";
    if (state.flagged.has(message.id)) {
      button.textContent = "已标记";
      button.classList.add("msg-flagged");
      button.disabled = true;
      return button;
    }
    button.addEventListener("click", async () => {
      const note = window.prompt("机器人哪里答错了？客户其实想问什么？（可不填）", "");
      if (note === null) return;
      button.disabled = true;
      try {
        await api("POST", "flag", { message_id: message.id, note: note.trim().slice(0, 500) });
        state.flagged.add(message.id);
        button.textContent = "已标记";
        button.classList.add("msg-flagged");
        notice("已记录：客户的这句话已交给运维，用于改进机器人。谢谢！");
      } catch (error) {
        button.disabled = false;
        notice("标记失败：" + error.message);
      }
    });
    return button;
  }

  async function loadTranscript(background) {
    const sel = state.selected;
    if (!sel) return;
    try {
      const data = await api("GET", "transcript/" + encodeURIComponent(sel.conversation), null, background === true);
      if (state.selected !== sel) return;
      $("chat-title").textContent = (CHANNELS[data.channel] || data.channel) + " · " + data.conversation_label;
      const box = $("transcript");
      box.replaceChildren(...data.messages.map(messageNode));
      box.scrollTop = box.scrollHeight;
      $("notes").replaceChildren(
        ...data.notes.map((note) => {
          const li = el("li", null, "note");
          li.append(el("span", (note.author || "") + " " + time(note.at), "note-meta"), el("p", note.text));
          return li;
        })
      );
    } catch (error) {
      notice(error.message);
    }
  }

  function field(list, label, value) {
    list.append(el("dt", label), el("dd", value === null || value === undefined || value === "" ? "—" : value));
  }

  async function loadCustomer() {
    const sel = state.selected;
    if (!sel) return;
    try {
      const data = await api("GET", "customer/" + encodeURIComponent(sel.conversation));
      if (state.selected !== sel) return;
      const box = $("customer");
      const parts = [];
      const info = el("dl", null, "fields");
      field(info, "渠道", CHANNELS[data.channel] || data.channel);
      field(info, "首次联系", data.first_seen_at ? new Date(data.first_seen_at).toLocaleString("zh-CN") : "");
      if (data.account) {
        field(info, "已验证户号", data.account.account_no);
        field(info, "户名", data.account.holder_name);
        field(info, "电话", data.account.phone);
        field(info, "地址", data.account.address);
        field(info, "供电状态", data.account.supply_status === "normal" ? "正常" : "已停电（欠费）");
      } else {
        field(info, "身份", "未验证");
      }
      parts.push(info);
      const section = (title, rows) => {
        parts.push(el("h3", title));
        const ul = el("ul", null, "plain");
        if (!rows.length) ul.append(el("li", "无", "muted"));
        for (const row of rows) ul.append(el("li", row));
        parts.push(ul);
      };
      section("工单", data.tickets.map((t) => t.ticket_no + " · " + t.type + " · " + t.status));
      section("业务申请", data.applications.map((a) => a.application_no + " · " + a.type + " · " + a.stage));
      section("以往人工会话", data.earlier_handoffs.map((h) => "#" + h.id + " · " + (REASONS[h.reason] || h.reason) + " · " + h.state));
      section("其他会话", data.other_conversations.map((c) => (CHANNELS[c.channel] || c.channel) + " · " + c.conversation_label));
      box.replaceChildren(...parts);
    } catch (error) {
      notice(error.message);
    }
  }

  function scheduleReload() {
    clearTimeout(state.reloadTimer);
    state.reloadTimer = setTimeout(() => loadTranscript(true), 150);
  }

  // --- actions ----------------------------------------------------------------------------

  async function act(work) {
    try {
      await work();
    } catch (error) {
      notice(error.message);
    }
  }

  $("claim").addEventListener("click", async () => {
    const sel = state.selected;
    try {
      await api("POST", "claim/" + sel.handoff_id);
      sel.mine = true;
      $("reply").focus();
    } catch (error) {
      notice(error.code === "already_claimed" ? "该会话已被其他坐席接入" : error.message);
    }
    await refreshLists();
    showControls();
  });

  async function sendReply() {
    const input = $("reply");
    const text = input.value.trim();
    if (!text || !state.selected) return;
    if (text.length > maxLength) {
      notice("回复过长（最多 " + maxLength + " 字）");
      return;
    }
    await act(async () => {
      await api("POST", "reply", { handoff_id: state.selected.handoff_id, text });
      input.value = "";
      await loadTranscript();
    });
  }

  $("reply-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sendReply();
  });
  $("reply").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendReply();
    }
  });
  $("canned").addEventListener("change", () => {
    const reply = state.canned.find((c) => String(c.id) === $("canned").value);
    if (reply) {
      $("reply").value = reply.text_zh;
      $("reply").focus();
    }
    $("canned").value = "";
  });

  $("note-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const text = $("note").value.trim();
    if (!text || !state.selected) return;
    act(async () => {
      await api("POST", "note", { handoff_id: state.selected.handoff_id, text });
      $("note").value = "";
      await loadTranscript();
    });
  });

  function finish(path, done) {
    act(async () => {
      await api("POST", path, { handoff_id: state.selected.handoff_id });
      notice(done);
      state.selected = null;
      $("chat-title").textContent = "请选择一个会话";
      $("transcript").replaceChildren();
      showControls();
      await refreshLists();
    });
  }

  $("handback").addEventListener("click", () => finish("handback", "已交还机器人"));
  $("close").addEventListener("click", () => {
    if (window.confirm("确定结束此会话吗？")) finish("close", "会话已结束");
  });
  $("transfer").addEventListener("click", () => {
    const target = Number($("transfer-to").value);
    if (!target) return;
    act(async () => {
      await api("POST", "transfer", { handoff_id: state.selected.handoff_id, to_agent_id: target });
      notice("已转接");
      state.selected = null;
      showControls();
      await refreshLists();
    });
  });

  $("availability").addEventListener("change", () =>
    act(async () => {
      await api("POST", "availability", { availability: $("availability").value });
    })
  );

  async function loadStatic() {
    try {
      const [canned, agents] = await Promise.all([api("GET", "canned-replies"), api("GET", "agents")]);
      state.canned = canned.canned_replies;
      const options = [el("option", "常用回复…")];
      options[0].value = "";
      for (const reply of state.canned) {
        const option = el("option", reply.title);
        option.value = String(reply.id);
        options.push(option);
      }
      $("canned").replaceChildren(...options);
      state.agents = agents.agents.filter((a) => a.username !== document.body.dataset.user);
      const targets = state.agents.map((a) => {
        const option = el("option", a.display_name + "（" + a.assigned + "/" + a.max_chats + "）");
        option.value = String(a.id);
        return option;
      });
      $("transfer-to").replaceChildren(...targets);
    } catch (error) {
      notice(error.message);
    }
  }

  // --- live events ------------------------------------------------------------------------

  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + window.location.host + "/console/ws");
    state.socket = socket;
    socket.addEventListener("open", () => {
      state.backoff = 1000;
      $("live").textContent = "实时连接正常";
      $("live").dataset.state = "ok";
      refreshLists(true);
    });
    socket.addEventListener("message", (frame) => {
      let event;
      try {
        event = JSON.parse(frame.data);
      } catch (_) {
        return;
      }
      const selected = state.selected && event.conversation === state.selected.conversation;
      if (event.lagged) {
        refreshLists(true);
        scheduleReload();
      }
      if (event.type === "queue_changed" || event.type === "handoff_changed") {
        refreshLists(true);
        if (event.type === "handoff_changed" && selected) scheduleReload();
      } else if (event.type === "message_in" || event.type === "message_out") {
        if (selected) scheduleReload();
        if (event.type === "message_in") refreshLists(true);
      } else if (event.type === "alert") {
        notice("紧急：" + (event.text || REASONS[event.reason] || "请查看排队列表"));
        refreshLists(true);
      }
    });
    socket.addEventListener("close", (event) => {
      if (event.code === SESSION_ENDED) {
        window.location.assign("/console/login"); // logged out, idle or past the shift
        return;
      }
      $("live").textContent = "实时连接已断开，正在重连…";
      $("live").dataset.state = "down";
      // a refused handshake (session gone) closes without a code: ask the API, which
      // answers 401 and sends the page to the login, before trying again
      const retry = () => api("GET", "me", null, true).then(connect, (error) => {
        if (error.message !== "logged out") connect();
      });
      setTimeout(retry, state.backoff);
      state.backoff = Math.min(state.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  // a link from the back office (a ticket's 来源会话): /console#conversation-<handle> opens that
  // conversation read-only, as a click in the lists would (the API decides who may)
  function openLinked() {
    const found = /^#conversation-([0-9]{1,12})$/.exec(window.location.hash);
    if (!found) return;
    select({ conversation: Number(found[1]), conversation_label: "#" + found[1], channel: "", id: null }, false);
  }

  window.addEventListener("hashchange", openLinked);
  openLinked();
  loadStatic();
  refreshLists();
  connect();
  setInterval(() => refreshLists(true), 30000); // waiting times move on even without events
})();
