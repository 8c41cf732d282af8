// What the back office's pages share: the JSON API with the session's CSRF token, small DOM
// builders (textContent only: the pages run under Trusted Types with no HTML sinks), dates,
// and the navigation between feedback, applications and customer records.
"use strict";

window.Cases = (() => {
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const role = document.body.dataset.role;

  // {ok, status, data}; sends the page to the login when the session is over
  async function api(method, path, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body || {});
    }
    const response = await fetch(path, init);
    if (response.status === 401) {
      window.location.assign("/console/login");
      return { ok: false, status: 401, data: {} };
    }
    const data = await response.json().catch(() => ({}));
    return { ok: response.ok, status: response.status, data };
  }

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function when(iso) {
    if (!iso) return "—";
    return new Date(iso).toLocaleString("zh-CN", { hour12: false });
  }

  function message(data) {
    const error = data && data.error;
    if (!error) return "";
    const codes = {
      illegal_step: "当前状态不能进行此操作", invalid: "填写有误", not_found: "未找到",
      unknown_category: "类别不对",
    };
    return (codes[error.code] || "操作失败") + "：" + error.message;
  }

  function facts(pairs) {
    const dl = el("dl", { class: "facts" });
    for (const [term, value] of pairs) dl.append(el("dt", { text: term }), el("dd", { text: value === null || value === undefined || value === "" ? "—" : String(value) }));
    return dl;
  }

  // a label from conf/ ({zh, en}) in the console's language (Chinese unless the page is English)
  const english = document.documentElement.lang.startsWith("en");
  function pick(label) {
    return label ? (english ? label.en : label.zh) : "";
  }
  const guessed = english ? " (guessed)" : "（系统推测）";

  return { api, el, when, message, facts, role, pick, guessed };
})();
