// Web chat client: plain ES2020, no framework, no build step. Protocol: docs/webchat.md.
// Customer and bot text is only ever inserted with textContent, never parsed as HTML (the
// page's CSP enforces Trusted Types: an HTML-string sink would be refused anyway).
"use strict";

(() => {
  const STRINGS = {
    zh: {
      htmlLang: "zh-CN",
      title: "供电所在线客服",
      subtitle: "电费查询 · 故障报修 · 业务办理",
      placeholder: "请输入您的问题，例如：查询电费",
      inputLabel: "输入消息",
      hint: "按 Enter 发送，Shift+Enter 换行",
      send: "发送",
      typing: "客服正在输入…",
      toggle: "English",
      toggleLang: "en",
      toggleLabel: "Switch to English",
      connecting: "正在连接…",
      reconnecting: "重新连接中…",
      offline: "网络已断开，恢复后将自动重新连接…",
      closed: "连接已关闭，请刷新页面。",
      welcome:
        "您好！我是供电所在线客服，可以帮您查询电费、报修停电、办理业务、查询进度。请直接输入您的问题。",
      you: "我说：",
      bot: "客服：",
      agent: "人工客服",
      system: "系统消息",
      sending: "发送中…",
      failed: "未发送",
      retry: "重试",
      image: "查看图片",
      over: (n) => `超出 ${n} 字`,
    },
    en: {
      htmlLang: "en",
      title: "Power Supply Station Online Service",
      subtitle: "Bills · Outages & faults · Applications",
      placeholder: "Type your question, e.g. check my bill",
      inputLabel: "Message",
      hint: "Enter sends, Shift+Enter starts a new line",
      send: "Send",
      typing: "The assistant is typing…",
      toggle: "中文",
      toggleLang: "zh-CN",
      toggleLabel: "切换到中文",
      connecting: "Connecting…",
      reconnecting: "Reconnecting…",
      offline: "You are offline; the chat reconnects when the network is back…",
      closed: "The connection was closed. Please reload the page.",
      welcome:
        "Hello! I am the power supply station's online assistant: bills, outages and faults, applications and their progress. How can I help?",
      you: "You: ",
      bot: "Assistant: ",
      agent: "Service agent",
      system: "Notice",
      sending: "Sending…",
      failed: "Not sent",
      retry: "Retry",
      image: "View image",
      over: (n) => `${n} too many`,
    },
  };

  const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  const KEY_SESSION = "gds-webchat:session";
  const KEY_LANGUAGE = "gds-webchat:language";
  const KEY_OUTBOX = "gds-webchat:outbox";
  const MAX_BACKOFF_MS = 30000;
  const TYPING_TIMEOUT_MS = 30000;

  const $ = (id) => document.getElementById(id);
  const log = $("log");
  const statusBar = $("status");
  const typingBox = $("typing");
  const form = $("composer");
  const input = $("input");
  const sendButton = $("send");
  const counter = $("counter");
  const languageButton = $("language");
  const maxLength = Number.parseInt(document.body.dataset.maxLength, 10) || 2000;

  // --- storage: localStorage may be unavailable (private mode, disabled cookies) ------------
  function store(kind) {
    try {
      const s = window[kind];
      const probe = "gds-webchat:probe";
      s.setItem(probe, probe);
      s.removeItem(probe);
      return s;
    } catch {
      const memory = new Map();
      return {
        getItem: (k) => (memory.has(k) ? memory.get(k) : null),
        setItem: (k, v) => memory.set(k, String(v)),
        removeItem: (k) => memory.delete(k),
      };
    }
  }
  const local = store("localStorage");
  const perTab = store("sessionStorage"); // unsent messages belong to the tab that wrote them

  function uuid4() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID(); // secure contexts (https, localhost) only
    }
    const b = window.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  let session = local.getItem(KEY_SESSION);
  if (!session || !UUID_RE.test(session)) {
    session = uuid4();
    local.setItem(KEY_SESSION, session);
  }
  let language = local.getItem(KEY_LANGUAGE) === "en" ? "en" : "zh";

  /** Messages not yet acknowledged: {id, text (sent), display (shown)}, oldest first. */
  let outbox = [];
  try {
    const saved = JSON.parse(perTab.getItem(KEY_OUTBOX) || "[]");
    if (Array.isArray(saved)) {
      outbox = saved.filter(
        (m) => m && UUID_RE.test(m.id) && typeof m.text === "string" && typeof m.display === "string",
      );
    }
  } catch {
    outbox = [];
  }
  const saveOutbox = () => perTab.setItem(KEY_OUTBOX, JSON.stringify(outbox));

  const t = (key) => STRINGS[language][key];
  const codePoints = (text) => Array.from(text).length;

  // --- rendering -----------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function nearBottom() {
    return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
  }

  function scrollDown() {
    log.scrollTop = log.scrollHeight;
  }

  function append(node, force) {
    const stick = force || nearBottom();
    log.append(node);
    if (stick) scrollDown();
  }

  /** Buttons of earlier bot messages are stale once the customer said something newer. */
  function disableOldButtons() {
    for (const b of log.querySelectorAll(".msg-button:not([disabled])")) b.disabled = true;
  }

  function safeLink(url) {
    try {
      const u = new URL(url, location.href);
      return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
    } catch {
      return null;
    }
  }

  function botBubble(message) {
    const sender = message.sender === "agent" || message.sender === "system" ? message.sender : "bot";
    const item = el("div", `msg msg-out msg-${sender}`);
    if (sender === "bot") item.append(el("span", "visually-hidden", t("bot")));
    else item.append(el("span", "msg-sender", t(sender)));
    if (message.text) item.append(el("p", "msg-text", message.text));
    const image = message.image ? safeLink(message.image) : null;
    if (image) {
      const a = el("a", "msg-link", t("image"));
      a.href = image;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      item.append(a);
    }
    const buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      const group = el("div", "msg-buttons");
      group.setAttribute("role", "group");
      for (const { title, payload } of buttons) {
        if (typeof title !== "string" || typeof payload !== "string") continue;
        const button = el("button", "msg-button", title);
        button.type = "button";
        button.addEventListener("click", () => {
          if (!button.disabled) submit(payload, title);
        });
        group.append(button);
      }
      item.append(group);
    }
    return item;
  }

  function customerBubble(text, id) {
    const item = el("div", "msg msg-in");
    item.append(el("span", "visually-hidden", t("you")));
    item.append(el("p", "msg-text", text));
    if (id) {
      item.dataset.id = id;
      item.classList.add("msg-pending");
      item.append(el("span", "msg-state", t("sending")));
    }
    return item;
  }

  function bubbleOf(id) {
    for (const node of log.querySelectorAll(".msg-in[data-id]")) {
      if (node.dataset.id === id) return node;
    }
    return null;
  }

  function renderHistory(messages) {
    log.replaceChildren();
    let titles = new Map(); // payload → title of the latest bot buttons: show what was clicked
    for (const m of messages) {
      if (!m || typeof m.text !== "string") continue;
      if (m.direction === "in") {
        log.append(customerBubble(titles.get(m.text) || m.text));
        disableOldButtons();
        titles = new Map();
      } else {
        const buttons = Array.isArray(m.buttons) ? m.buttons : [];
        if (buttons.length) titles = new Map(buttons.map((b) => [b.payload, b.title]));
        log.append(botBubble(m));
      }
    }
    if (!messages.length) log.append(botBubble({ text: t("welcome") }));
    for (const m of outbox) {
      const bubble = customerBubble(m.display, m.id);
      bubble.dataset.restored = "1"; // may already be in the history above (sent, ack lost)
      log.append(bubble);
      disableOldButtons();
    }
    scrollDown();
  }

  let typingTimer = null;
  function showTyping() {
    typingBox.hidden = false;
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_TIMEOUT_MS);
    if (nearBottom()) scrollDown();
  }
  function hideTyping() {
    clearTimeout(typingTimer);
    typingBox.hidden = true;
  }

  let statusKey = null;
  function setStatus(key) {
    statusKey = key;
    statusBar.hidden = !key;
    statusBar.textContent = key ? t(key) : "";
    form.classList.toggle("is-offline", Boolean(key));
  }

  // --- language ------------------------------------------------------------------------------
  function applyLanguage() {
    document.documentElement.lang = t("htmlLang");
    document.title = t("title");
    for (const node of document.querySelectorAll("[data-i18n]")) {
      node.textContent = t(node.dataset.i18n);
    }
    input.placeholder = t("placeholder");
    languageButton.textContent = t("toggle");
    languageButton.lang = t("toggleLang");
    languageButton.setAttribute("aria-label", t("toggleLabel"));
    languageButton.setAttribute("aria-pressed", String(language === "en"));
    if (statusKey) setStatus(statusKey);
    for (const node of log.querySelectorAll(".msg-pending .msg-state")) node.textContent = t("sending");
    updateCounter();
  }

  languageButton.addEventListener("click", () => {
    language = language === "en" ? "zh" : "en";
    local.setItem(KEY_LANGUAGE, language);
    applyLanguage();
    if (ready) sendFrame({ type: "hello", session, language }); // updates the socket's language
  });

  // --- connection ----------------------------------------------------------------------------
  let ws = null;
  let ready = false; // hello answered with history
  let connectedOnce = false;
  let attempt = 0;
  let reconnectTimer = null;
  let stopped = false;

  function socketUrl() {
    const url = new URL("ws", location.href); // relative: works behind a path prefix too
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    url.search = "";
    url.hash = "";
    return url.href;
  }

  function sendFrame(frame) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (stopped || ws) return;
    setStatus(connectedOnce ? "reconnecting" : "connecting");
    let socket;
    try {
      socket = new WebSocket(socketUrl());
    } catch {
      scheduleReconnect();
      return;
    }
    ws = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "hello", session, language }));
    });
    socket.addEventListener("message", (event) => {
      if (ws !== socket || typeof event.data !== "string") return;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      if (data && typeof data.type === "string") onEvent(data);
    });
    socket.addEventListener("close", (event) => {
      if (ws !== socket) return;
      ws = null;
      ready = false;
      hideTyping();
      if (event.code === 1008) {
        stopped = true; // refused by policy (e.g. too many tabs): retrying would not help
        setStatus("closed");
        return;
      }
      scheduleReconnect();
    });
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    const base = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** attempt);
    attempt += 1;
    setStatus(navigator.onLine === false ? "offline" : connectedOnce ? "reconnecting" : "connecting");
    reconnectTimer = setTimeout(connect, base * (0.75 + Math.random() * 0.5));
  }

  function reconnectNow() {
    if (ws || stopped) return;
    attempt = 0;
    connect();
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });

  function flushOutbox() {
    for (const m of outbox) sendFrame({ type: "message", id: m.id, text: m.text, language });
  }

  function onEvent(data) {
    switch (data.type) {
      case "history":
        ready = true;
        connectedOnce = true;
        attempt = 0;
        setStatus(null);
        renderHistory(Array.isArray(data.messages) ? data.messages : []);
        flushOutbox(); // unacknowledged messages go again, same ids: the server dedupes
        break;
      case "ack":
        onAck(data);
        break;
      case "typing":
        showTyping();
        break;
      case "reply":
        hideTyping();
        append(botBubble(data));
        break;
      case "error":
        onError(data);
        break;
      default:
        break;
    }
  }

  function dropFromOutbox(id) {
    const before = outbox.length;
    outbox = outbox.filter((m) => m.id !== id);
    if (outbox.length !== before) saveOutbox();
  }

  function onAck(data) {
    hideTyping();
    dropFromOutbox(data.id);
    const bubble = bubbleOf(data.id);
    if (!bubble) return;
    if (data.duplicate && bubble.dataset.restored) {
      bubble.remove(); // handled before the reconnect: the history just shown has it already
      return;
    }
    bubble.classList.remove("msg-pending");
    bubble.querySelector(".msg-state")?.remove();
  }

  function onError(data) {
    const message = typeof data.message === "string" ? data.message : "";
    const bubble = typeof data.id === "string" ? bubbleOf(data.id) : null;
    if (!bubble) {
      if (message) append(botBubble({ text: message, sender: "system" }));
      return;
    }
    hideTyping();
    const item = outbox.find((m) => m.id === data.id);
    dropFromOutbox(data.id);
    bubble.classList.remove("msg-pending");
    bubble.classList.add("msg-failed");
    bubble.querySelector(".msg-state")?.remove();
    const state = el("span", "msg-state", message ? `${t("failed")}：${message}` : t("failed"));
    state.setAttribute("role", "alert");
    bubble.append(state);
    if (item && ["unavailable", "busy", "rate_limited"].includes(data.code)) {
      const retry = el("button", "msg-retry", t("retry"));
      retry.type = "button";
      retry.addEventListener("click", () => {
        bubble.remove();
        queue(item.text, item.display, item.id);
      });
      bubble.append(retry);
    }
  }

  // --- sending -------------------------------------------------------------------------------
  function queue(text, display, id) {
    const message = { id: id || uuid4(), text, display };
    outbox.push(message);
    saveOutbox();
    disableOldButtons();
    append(customerBubble(display, message.id), true);
    if (ready) sendFrame({ type: "message", id: message.id, text, language });
  }

  function submit(text, display) {
    const clean = text.trim();
    if (!clean || codePoints(clean) > maxLength) return false;
    queue(clean, (display || clean).trim());
    return true;
  }

  function updateCounter() {
    const n = codePoints(input.value);
    const over = n > maxLength;
    counter.textContent = over ? `${n}/${maxLength} · ${t("over")(n - maxLength)}` : `${n}/${maxLength}`;
    counter.classList.toggle("is-over", over);
    input.setAttribute("aria-invalid", String(over));
    sendButton.disabled = !input.value.trim() || over;
  }

  function autoGrow() {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight, 160)}px`;
  }

  input.addEventListener("input", () => {
    updateCounter();
    autoGrow();
  });

  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate does nothing.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.dispatchEvent(new Event("submit", { cancelable: true }));
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (submit(input.value)) {
      input.value = "";
      updateCounter();
      autoGrow();
    }
    input.focus();
  });

  applyLanguage();
  renderHistory([]); // the welcome and any unsent messages, until the server's history arrives
  connect();
})();
