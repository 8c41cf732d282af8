// Complaints and feedback: the list (overdue first, repeats flagged) and one case with its
// commitments, history and the steps: assign, record the contact, the reply, close with the
// customer's verdict; its category can be corrected at any time, a closed case's too. Every step
// answers the case as it is now, or why it cannot be taken.
"use strict";

(() => {
  const { api, el, when, message, facts, pick, guessed } = window.Cases;
  const $ = (id) => document.getElementById(id);
  const VERDICTS = { satisfied: "客户满意", unsatisfied: "客户不满意" };
  let current = null;

  function deadline(commitment) {
    if (!commitment.due_at) return el("span", { text: "—" });
    const cell = el("span", { text: when(commitment.due_at) });
    if (commitment.done_at) cell.append(el("span", { class: "muted", text: "（已完成）" }));
    if (commitment.late) cell.append(el("span", { class: "badge late", text: "超期" }));
    else if (commitment.due_soon) cell.append(el("span", { class: "badge soon", text: "即将到期" }));
    return cell;
  }

  function row(c) {
    const open = el("button", { class: "linkish", type: "button", text: c.ticket_no, onclick: () => show(c.ticket_no) });
    const first = el("td", {}, open);
    if (c.overdue) first.append(el("span", { class: "badge late", text: "超期" }));
    if (c.earlier_complaints) first.append(el("span", { class: "badge repeat", text: "重复投诉 " + c.earlier_complaints }));
    return el(
      "tr",
      { class: c.overdue ? "overdue" : "", "data-ticket": c.ticket_no },
      first,
      el("td", { text: c.type_label }),
      el("td", { text: c.status_label }),
      el("td", { text: c.handler || "未分派" }),
      el("td", {}, deadline(c.contact)),
      el("td", {}, deadline(c.reply)),
      el("td", { text: c.phone || "—" })
    );
  }

  async function refresh() {
    const params = new URLSearchParams({ state: $("filter-state").value });
    if ($("filter-type").value) params.set("type", $("filter-type").value);
    const { ok, data } = await api("GET", "/api/v1/feedback?" + params);
    if (!ok) return;
    $("cases").replaceChildren(...data.cases.map(row));
    const late = data.cases.filter((c) => c.overdue).length;
    $("list-summary").textContent = "共 " + data.cases.length + " 件" + (late ? "，其中超期 " + late + " 件" : "");
    $("handler").replaceChildren(...data.handlers.map((h) => el("option", { value: h.username, text: h.display_name + "（" + h.username + "）" })));
  }

  function timeline(items) {
    return el("ol", { class: "timeline" }, ...items.map((e) =>
      el("li", {}, el("strong", { text: e.status_label }), " " + when(e.at) + " · " + e.actor, e.note ? el("div", { text: e.note }) : null)
    ));
  }

  // the category (complaints) or theme (suggestions, praise): staff's choice, or the figures'
  // guess from the customer's words, marked as such; choosing one records it at once
  function category(c) {
    const cat = c.category; // violation reports have none: not called for them
    const select = el(
      "select",
      { id: "category-select", onchange: () => choose(select.value) },
      el("option", { value: "", text: "请选择" }),
      ...cat.options.map((o) => el("option", { value: o.code, text: pick(o.label) }))
    );
    return el(
      "p",
      { class: "category" },
      "类别：",
      el("strong", { id: "category-now", text: pick(cat.label) + (cat.chosen ? "" : guessed) }),
      " ",
      el("label", {}, "更正为", select),
      " ",
      el("span", { id: "category-msg", role: "status" })
    );
  }

  async function choose(code) {
    if (!current || !code) return;
    const path = "/api/v1/feedback/" + encodeURIComponent(current.ticket_no) + "/category";
    const { ok, data } = await api("POST", path, { category: code });
    if (ok) render(data);
    const msg = $("category-msg");
    msg.className = ok ? "ok" : "error";
    msg.textContent = ok ? "已更正类别" : message(data);
    if (!ok) $("category-select").value = "";
  }

  function render(c) {
    current = c;
    $("case-title").textContent = c.ticket_no + " · " + c.type_label + " · " + c.status_label;
    const account = c.account_no
      ? el("a", { href: "/console/customers#" + c.account_no, text: c.account_no + (c.holder_name ? "（" + c.holder_name + "）" : "") })
      : null;
    const parts = [
      el("h3", { text: "客户原话" }),
      el("p", { class: "words", text: c.description }),
      facts([
        ["联系电话", c.phone],
        ["地址", c.address],
        ["渠道", c.channel],
        ["会话", c.conversation ? c.conversation.conversation_label : null],
        ["处理人", c.handler],
        ["答复", c.reply_text],
        ["客户评价", VERDICTS[c.verdict] || null],
      ]),
    ];
    if (account) parts.push(el("p", {}, "客户档案：", account));
    if (c.category) parts.push(category(c));
    parts.push(el("h3", { text: "服务承诺" }), el("p", {}, "联系客户：", deadline(c.contact)), el("p", {}, "答复客户：", deadline(c.reply)));
    if (c.earlier.length) {
      parts.push(el("h3", { text: "该客户此前的投诉（" + c.earlier.length + "）" }));
      parts.push(el("ul", { id: "earlier" }, ...c.earlier.map((e) =>
        el("li", {}, el("button", { class: "linkish", type: "button", text: e.ticket_no, onclick: () => show(e.ticket_no) }), " " + when(e.created_at) + " " + e.status_label + "：" + e.description)
      )));
    }
    parts.push(el("h3", { text: "处理记录" }), timeline(c.timeline));
    $("case-body").replaceChildren(...parts);
    // only the steps the case can take now (the server refuses the others with a 409)
    const assigned = c.status !== "received";
    const contacted = Boolean(c.contact.done_at) || c.type !== "complaint";
    $("case-actions").hidden = Boolean(c.closed_at);
    $("contact-form").hidden = !assigned || c.type === "violation";
    $("reply-form").hidden = !assigned || !contacted;
    $("close-form").hidden = !c.reply.done_at;
    $("verdict").value = "";
  }

  async function show(number) {
    $("case-error").textContent = "";
    $("case-ok").textContent = "";
    const { ok, data } = await api("GET", "/api/v1/feedback/" + encodeURIComponent(number));
    if (ok) render(data);
  }

  function action(form, path, payload, done) {
    $(form).addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!current) return;
      $("case-error").textContent = "";
      $("case-ok").textContent = "";
      const { ok, data } = await api("POST", "/api/v1/feedback/" + encodeURIComponent(current.ticket_no) + "/" + path, payload());
      if (!ok) {
        $("case-error").textContent = message(data);
        return;
      }
      render(data);
      $("case-ok").textContent = done;
      await refresh();
    });
  }

  action("assign-form", "assign", () => ({ handler: $("handler").value }), "已分派");
  action("contact-form", "contact", () => ({ note: $("contact-note").value }), "已记录联系情况");
  action("reply-form", "reply", () => ({ reply: $("reply-text").value }), "已记录答复");
  action("close-form", "close", () => ({ verdict: $("verdict").value || null, note: $("close-note").value }), "已办结");
  for (const id of ["filter-type", "filter-state"]) $(id).addEventListener("change", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  // a link from the quality dashboard's drill-down (…#number) opens that case
  document.addEventListener("DOMContentLoaded", () => {
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    if (/^T[0-9]{6,16}$/.test(wanted)) show(wanted);
  });
})();
