// Repair work orders (back office): the dispatcher's list (/console/tickets), a ticket's page
// (/console/tickets/{ticket_no}) and the crews' phone page (/console/crew). Everything comes
// from /api/v1/tickets/ with the session cookie; every POST carries the page's CSRF token.
// No innerHTML anywhere (the CSP requires Trusted Types): text goes in with textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const BASE = "/api/v1/tickets";
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const PAGE = document.body.dataset.page;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function zh(label, fallback) {
    return label ? label.zh : fallback || "";
  }

  // a label from conf/ in the console's language (Chinese unless the page is in English)
  const ENGLISH = document.documentElement.lang.startsWith("en");
  function pick(label) {
    return label ? (ENGLISH ? label.en : label.zh) : "";
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").slice(5, 16) : "—";
  }

  function showError(message) {
    const box = $("error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  async function call(method, path, body, contentType) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = CSRF;
    let payload;
    if (body instanceof Blob) {
      payload = body;
      headers["Content-Type"] = contentType || body.type;
    } else if (body !== undefined) {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
    const response = await fetch(BASE + path, { method, headers, body: payload, credentials: "same-origin" });
    if (response.status === 401) {
      window.location.assign("/console/login");
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const err = data.error || {};
      const allowed = err.allowed && err.allowed.length ? "（现在可以：" + err.allowed.join("、") + "）" : "";
      showError((err.message || "操作失败 " + response.status) + allowed);
      return null;
    }
    showError("");
    return data;
  }

  // the datetime-local input as an ISO time without offset (station time), or undefined
  function stepTime() {
    const input = $("at");
    return input && input.value ? input.value : undefined;
  }

  function noteText() {
    const input = $("note");
    return input && input.value.trim() ? input.value.trim() : undefined;
  }

  function clearInputs() {
    if ($("at")) $("at").value = "";
    if ($("note")) $("note").value = "";
  }

  // --- the list ---------------------------------------------------------------------------

  const STATUS_NAMES = {};
  const CHANNELS = { telegram: "Telegram", web: "网页在线客服", api: "接口" };

  async function loadOptions() {
    const data = await call("GET", "/options");
    if (!data) return null;
    for (const s of data.statuses) STATUS_NAMES[s.code] = zh(s.label, s.code);
    return data;
  }

  function fillSelect(select, items) {
    for (const [value, text] of items) {
      const option = el("option", text);
      option.value = String(value);
      select.append(option);
    }
  }

  async function listPage() {
    const options = await loadOptions();
    if (!options) return;
    fillSelect($("f-status"), options.statuses.map((s) => [s.code, zh(s.label, s.code)]));
    fillSelect($("f-type"), options.types.map((t) => [t.code, zh(t.label, t.code)]));
    fillSelect($("f-area"), options.areas.map((a) => [a.id, a.name]));
    fillSelect($("f-crew"), options.crews.map((c) => [c.id, c.name]));
    $("filters").addEventListener("change", refreshList);
    await refreshList();
  }

  function query() {
    const params = new URLSearchParams();
    const form = new FormData($("filters"));
    for (const [key, value] of form.entries()) if (value) params.set(key, String(value));
    return params.toString();
  }

  async function refreshList() {
    const data = await call("GET", "?" + query());
    if (!data) return;
    $("counts").replaceChildren(
      ...Object.entries(data.counts).map(([status, n]) => el("li", (STATUS_NAMES[status] || status) + " " + n))
    );
    $("total").textContent = "共 " + data.total + " 张工单";
    $("tickets").replaceChildren(...data.tickets.map(ticketRow));
  }

  function ticketRow(t) {
    const tr = el("tr");
    if (t.overdue) tr.className = "overdue";
    else if (t.due_soon) tr.className = "due-soon";
    const link = el("a", t.ticket_no);
    link.href = "/console/tickets/" + encodeURIComponent(t.ticket_no);
    const first = el("td");
    first.append(link);
    const due = t.deadline ? when(t.deadline) + (t.overdue ? " 已超时" : t.due_soon ? " 即将超时" : "") : "—";
    const place = (t.area ? t.area.name : "") + (t.address ? " · " + t.address : "");
    tr.append(
      first,
      el("td", zh(t.type_label, t.type)),
      el("td", zh(t.status_label, t.status) + (t.merged ? "（并入停电）" : "")),
      el("td", place),
      el("td", t.crew ? t.crew.name : "未指派"),
      el("td", when(t.created_at)),
      el("td", due)
    );
    return tr;
  }

  // --- a ticket ---------------------------------------------------------------------------

  const STEP_NAMES = {
    dispatched: "派单", accepted: "接单", on_site: "到达现场", repairing: "开始抢修",
    restored: "恢复送电", customer_side: "客户内部故障", made_safe: "隐患已消除",
    awaiting_callback: "转待回访", closed: "办结", cancelled: "取消",
  };

  function stepButton(step, number, after) {
    const button = el("button", STEP_NAMES[step] || step, "step");
    button.type = "button";
    button.dataset.step = step;
    button.addEventListener("click", async () => {
      const data = await call("POST", "/" + number + "/steps", { status: step, at: stepTime(), note: noteText() });
      if (data) {
        clearInputs();
        after(data);
      }
    });
    return button;
  }

  function renderTicket(t) {
    const number = t.ticket_no;
    $("status").textContent = zh(t.status_label, t.status);
    $("type").textContent = zh(t.type_label, t.type);
    $("crew").textContent = t.crew ? t.crew.name + (t.crew.phone ? "（" + t.crew.phone + "）" : "") : "未指派";
    $("deadline").textContent = t.deadline ? when(t.deadline) + (t.overdue ? " 已超时" : "") : "—";
    $("deadline").className = t.overdue ? "overdue" : "";
    $("area").textContent = t.area ? t.area.name : "—";
    $("address").textContent = t.address || "—";
    $("phone").textContent = t.contact_phone || "—";
    $("account").textContent = t.account ? t.account.account_no + " " + t.account.holder_name : "—";
    $("outage").textContent = t.outage ? t.outage.outage_no + " " + t.outage.cause : "—";
    const conv = $("conversation");
    conv.replaceChildren();
    if (t.conversation && t.conversation.handle) {
      const a = el("a", t.conversation.label);
      a.href = "/console#conversation-" + t.conversation.handle;
      conv.append(a);
    } else {
      conv.textContent = t.conversation ? CHANNELS[t.conversation.channel] || t.conversation.channel || "—" : "—";
    }
    $("words").textContent = t.description;
    renderCategory(t.category);
    const actions = t.actions;
    $("steps").replaceChildren(...actions.steps.map((s) => stepButton(s, number, renderTicket)));
    $("assign-form").hidden = !actions.assign;
    $("merge-form").hidden = !actions.merge || !actions.merge_into.length;
    $("merge-outage").replaceChildren();
    fillSelect($("merge-outage"), (actions.merge_into || []).map((o) => [o.outage_no, o.outage_no + " " + o.area + " " + o.cause]));
    $("split").hidden = !actions.split;
    $("callback-form").hidden = !actions.callback;
    $("timeline").replaceChildren(
      ...t.timeline.map((e) => el("li", when(e.at) + " " + zh(e.label, e.status) + " · " + e.actor + (e.note ? " · " + e.note : "")))
    );
    $("photos").replaceChildren(...t.photos.map((p) => {
      const img = el("img");
      img.src = p.url;
      img.alt = "现场照片 " + when(p.at);
      return img;
    }));
  }

  // the fault or hazard type: staff's choice, or the figures' guess from the customer's words
  // (marked as such); choosing another records it at once
  function renderCategory(category) {
    const row = $("category").closest("div");
    row.hidden = !category;
    if (!category) return;
    $("category").textContent = pick(category.label) + (category.chosen ? "" : ENGLISH ? " (guessed)" : "（系统推测）");
    const select = $("category-select");
    select.replaceChildren(el("option", ENGLISH ? "choose…" : "请选择"));
    select.firstChild.value = "";
    fillSelect(select, category.options.map((o) => [o.code, pick(o.label)]));
  }

  async function ticketPage() {
    const number = document.body.dataset.ticket;
    const options = await loadOptions();
    if (!options) return;
    fillSelect($("assign-crew"), options.crews.filter((c) => c.active).map((c) => [c.id, c.name + "（" + c.areas.join("、") + "）"]));
    fillSelect($("callback-result"), options.callback_results.map((r) => [r.code, zh(r.label, r.code)]));
    const post = async (path, body) => {
      const data = await call("POST", "/" + number + path, body);
      if (data) {
        clearInputs();
        renderTicket(data);
      }
    };
    $("assign-form").addEventListener("submit", (e) => {
      e.preventDefault();
      post("/assign", { crew_id: Number($("assign-crew").value), at: stepTime(), note: noteText() });
    });
    $("merge-form").addEventListener("submit", (e) => {
      e.preventDefault();
      post("/merge", { outage_no: $("merge-outage").value, note: noteText() });
    });
    $("split").addEventListener("click", () => post("/split", { note: noteText() }));
    $("callback-form").addEventListener("submit", (e) => {
      e.preventDefault();
      post("/callback", { result: $("callback-result").value, note: noteText() });
    });
    $("add-note").addEventListener("click", () => post("/notes", { note: noteText() }));
    $("category-select").addEventListener("change", async (e) => {
      if (!e.target.value) return;
      const data = await call("POST", "/" + number + "/category", { category: e.target.value });
      if (data) renderTicket(data);
      else e.target.value = ""; // refused: the error shows above, the category is unchanged
    });
    $("photo").addEventListener("change", () => upload(number, $("photo"), async () => renderTicket(await call("GET", "/" + number))));
    const data = await call("GET", "/" + number);
    if (data) renderTicket(data);
  }

  async function upload(number, input, after) {
    const file = input.files && input.files[0];
    if (!file) return;
    const data = await call("POST", "/" + number + "/photos", file, file.type);
    input.value = "";
    if (data) await after();
  }

  // --- the crew's phone page --------------------------------------------------------------

  let current = null;

  function showCard(t) {
    current = t;
    $("next-empty").hidden = Boolean(t);
    $("next-card").hidden = !t;
    if (!t) return;
    $("next-no").textContent = t.ticket_no;
    $("next-status").textContent = zh(t.status_label, t.status);
    $("next-address").textContent = (t.area ? t.area.name + " " : "") + (t.address || "");
    $("next-words").textContent = "客户说：" + t.description;
    $("next-phone").textContent = t.contact_phone ? "拨打 " + t.contact_phone : "无联系电话";
    $("next-phone").href = t.contact_phone ? "tel:" + t.contact_phone : "#";
    $("next-deadline").textContent = t.deadline ? "时限 " + when(t.deadline) + (t.overdue ? "（已超时）" : "") : "";
    for (const step of ["accepted", "on_site", "restored", "made_safe"]) {
      $("btn-" + step).hidden = !t.steps.includes(step);
    }
  }

  async function refreshCrew(keep) {
    const data = await call("GET", "/my-crew");
    if (!data) return;
    $("crew-name").textContent = data.crew ? data.crew.name + " · 我的抢修任务" : "我的抢修任务";
    const queue = data.tickets;
    const again = keep && queue.find((t) => t.ticket_no === keep);
    showCard(again || queue[0] || null);
    $("queue").replaceChildren(...queue.map((t) => {
      const item = el("li");
      const button = el("button", t.ticket_no + " · " + zh(t.status_label, t.status) + " · " + (t.address || ""), "queue-item");
      button.type = "button";
      if (t.overdue) button.classList.add("overdue");
      button.addEventListener("click", () => showCard(t));
      item.append(button);
      return item;
    }));
  }

  async function crewPage() {
    for (const step of ["accepted", "on_site", "restored", "made_safe"]) {
      $("btn-" + step).addEventListener("click", async () => {
        if (!current) return;
        const number = current.ticket_no;
        const data = await call("POST", "/" + number + "/steps", { status: step, at: stepTime(), note: noteText() });
        if (data) {
          clearInputs();
          $("done").textContent = number + "：已记录" + (STEP_NAMES[step] || step);
          await refreshCrew(number);
        }
      });
    }
    $("photo").addEventListener("change", () => {
      if (current) upload(current.ticket_no, $("photo"), () => { $("done").textContent = "照片已上传"; });
    });
    await refreshCrew(null);
  }

  if (PAGE === "tickets") listPage();
  else if (PAGE === "ticket") ticketPage();
  else if (PAGE === "crew") crewPage();
})();
