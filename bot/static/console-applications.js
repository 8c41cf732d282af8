// Applications: the queue by stage (each stage with its limit in working days, overdue first)
// and one application with its documents and history; advance a stage, send back for missing
// documents (the customer is told exactly which), approve, or reject with a reason.
"use strict";

(() => {
  const { api, el, when, message, facts } = window.Cases;
  const $ = (id) => document.getElementById(id);
  const DECISIONS = { approved: "审核通过", rejected: "已驳回" };
  let current = null;

  function due(a) {
    if (a.waits_on_customer) return el("span", { class: "badge wait", text: "等待客户" });
    const cell = el("span", { text: when(a.due_at) });
    if (a.overdue) cell.append(el("span", { class: "badge late", text: "超期" }));
    return cell;
  }

  function row(a) {
    const open = el("button", { class: "linkish", type: "button", text: a.application_no, onclick: () => show(a.application_no) });
    return el(
      "tr",
      { class: a.overdue ? "overdue" : "", "data-application": a.application_no },
      el("td", {}, open),
      el("td", { text: a.type_label }),
      el("td", { text: a.applicant_name || "—" }),
      el("td", {}, due(a)),
      el("td", { text: when(a.final_due_at) }),
      el("td", { text: a.documents_missing.join("、") || "—" })
    );
  }

  function group(g) {
    const first = g.applications[0];
    const days = first && first.stage_working_days ? "（本环节时限 " + first.stage_working_days + " 个工作日）" : "";
    return el(
      "div",
      { class: "stage-group", "data-stage": g.stage },
      el("h3", { text: g.stage_label + " · " + g.applications.length + " 件" + days }),
      el(
        "table",
        { class: "list" },
        el("thead", {}, el("tr", {}, ...["申请号", "业务", "申请人", "当前期限", "办结期限", "缺少资料"].map((t) => el("th", { scope: "col", text: t })))),
        el("tbody", {}, ...g.applications.map(row))
      )
    );
  }

  async function refresh() {
    const params = new URLSearchParams({ state: $("filter-state").value });
    if ($("filter-type").value) params.set("type", $("filter-type").value);
    const { ok, data } = await api("GET", "/api/v1/applications?" + params);
    if (!ok) return;
    $("queue").replaceChildren(...data.stages.map(group));
    const total = data.stages.reduce((n, g) => n + g.applications.length, 0);
    $("list-summary").textContent = "共 " + total + " 件";
  }

  function checks(target, legend, docs, name) {
    const boxes = docs.map((d) => el("label", {}, el("input", { type: "checkbox", name, value: d.code }), d.name));
    $(target).replaceChildren(el("legend", { text: legend }), ...boxes);
  }

  function checked(name) {
    return [...document.querySelectorAll('input[name="' + name + '"]:checked')].map((box) => box.value);
  }

  function render(a) {
    current = a;
    $("app-title").textContent = a.application_no + " · " + a.type_label + " · " + a.stage_label;
    const docs = el("ul", { id: "documents" }, ...a.documents.map((d) =>
      el("li", { "data-document": d.code }, d.name + "：" + (d.received ? "已收" : d.requested ? "待补充（已通知客户）" : "未收"))
    ));
    $("app-body").replaceChildren(
      facts([
        ["申请人", a.applicant_name],
        ["联系电话", a.phone],
        ["地址", a.address],
        ["户号", a.account_no],
        ["当前期限", a.waits_on_customer ? "等待客户（不计时）" : when(a.due_at)],
        ["办结期限", when(a.final_due_at)],
        ["审核结果", a.decision ? DECISIONS[a.decision] + "：" + a.decision_reason + "（" + a.decided_by + "，" + when(a.decided_at) + "）" : null],
      ]),
      el("h3", { text: "所需资料" }),
      docs,
      el("h3", { text: "办理记录" }),
      el("ol", { class: "timeline" }, ...a.timeline.map((e) =>
        el("li", {}, el("strong", { text: e.stage_label }), " " + when(e.at) + " · " + e.actor, e.note ? el("div", { text: e.note }) : null)
      ))
    );
    $("app-actions").hidden = Boolean(a.closed_at);
    const outstanding = a.documents.filter((d) => !d.received);
    checks("received-docs", "本次收到的资料", outstanding, "received");
    $("received-docs").hidden = outstanding.length === 0;
    checks("missing-docs", "退回补充资料：缺少的资料", a.documents, "missing");
    $("send-back-form").hidden = !a.can_send_back;
    $("next-stage").replaceChildren(...a.next_stages.map((s) => el("option", { value: s.stage, text: s.label })));
    $("approve-form").hidden = Boolean(a.decision) || a.waits_on_customer || a.next_stages.length === 0;
  }

  async function show(number) {
    $("app-error").textContent = "";
    $("app-ok").textContent = "";
    const { ok, data } = await api("GET", "/api/v1/applications/" + encodeURIComponent(number));
    if (ok) render(data);
  }

  function action(form, path, payload, done) {
    $(form).addEventListener("submit", async (event) => {
      event.preventDefault();
      if (!current) return;
      $("app-error").textContent = "";
      $("app-ok").textContent = "";
      const { ok, data } = await api("POST", "/api/v1/applications/" + encodeURIComponent(current.application_no) + "/" + path, payload());
      if (!ok) {
        $("app-error").textContent = message(data);
        return;
      }
      render(data);
      const told = data.customer_notice === "sent" || data.customer_notice === "stored" ? "，已通知客户" : "";
      $("app-ok").textContent = done + told;
      await refresh();
    });
  }

  action("advance-form", "advance", () => ({ stage: $("next-stage").value, note: $("advance-note").value, received: checked("received") }), "已推进");
  action("send-back-form", "send-back", () => ({ missing: checked("missing"), note: $("send-back-note").value }), "已退回补资料");
  action("approve-form", "approve", () => ({ reason: $("approve-reason").value, received: checked("received") }), "已审核通过");
  action("reject-form", "reject", () => ({ reason: $("reject-reason").value }), "已驳回");
  for (const id of ["filter-type", "filter-state"]) $(id).addEventListener("change", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
  // a link from the quality dashboard's drill-down (…#number) opens that case
  document.addEventListener("DOMContentLoaded", () => {
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    if (/^A[0-9]{6,16}$/.test(wanted)) show(wanted);
  });
})();
