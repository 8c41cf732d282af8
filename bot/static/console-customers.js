// Customer records: search by account number, name, phone (masked in the list) or address; a
// customer's page with the account, meter, recent bills and the whole contact history across
// channels. Opening a page is recorded in the access log (the server does it).
"use strict";

(() => {
  const { api, el, when, message, facts } = window.Cases;
  const $ = (id) => document.getElementById(id);
  const SUPPLY = { normal: "正常供电", disconnected: "已停电（欠费）" };
  const KINDS = { conversation: "会话", ticket: "工单", complaint: "投诉/意见", application: "业务申请", rating: "评价" };

  function row(c) {
    const open = el("button", { class: "linkish", type: "button", text: c.account_no, onclick: () => show(c.account_no) });
    return el(
      "tr",
      { "data-account": c.account_no },
      el("td", {}, open),
      el("td", { text: c.holder_name }),
      el("td", { text: c.phone || "—" }),
      el("td", { text: c.address }),
      el("td", { text: SUPPLY[c.supply_status] || c.supply_status })
    );
  }

  async function search(event) {
    if (event) event.preventDefault();
    $("search-error").textContent = "";
    const query = $("query").value.trim();
    if (!query) return;
    const { ok, data } = await api("GET", "/api/v1/customers?q=" + encodeURIComponent(query));
    if (!ok) {
      $("search-error").textContent = message(data);
      return;
    }
    $("results").replaceChildren(...data.customers.map(row));
    $("list-summary").textContent = data.customers.length ? "找到 " + data.customers.length + " 户" : "没有找到匹配的客户";
  }

  function table(headers, rows) {
    return el(
      "table",
      { class: "list" },
      el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...rows.map((cells) => el("tr", {}, ...cells.map((c) => el("td", { text: c === null || c === undefined ? "—" : String(c) })))))
    );
  }

  function render(c) {
    const a = c.account;
    $("customer-title").textContent = a.holder_name + " · " + a.account_no;
    $("customer-body").replaceChildren(
      facts([
        ["户号", a.account_no],
        ["户名", a.holder_name],
        ["电话", a.phone],
        ["地址", a.address],
        ["供电区域", a.area],
        ["供电状态", SUPPLY[a.supply_status] || a.supply_status],
        ["余额", a.balance + " 元" + (a.prepaid ? "（预付费）" : "")],
        ["电表", c.meters.map((m) => m.meter_no).join("、")],
      ]),
      el("h3", { text: "近期电费" }),
      table(["账期", "电量（kWh）", "金额（元）", "状态"], c.bills.map((b) => [b.period, b.kwh, b.total, b.paid ? "已缴" : "未缴"])),
      el("h3", { text: "联系记录（会话 " + c.counts.conversations + "，工单 " + c.counts.tickets + "，投诉 " + c.counts.complaints + "，申请 " + c.counts.applications + "，评价 " + c.counts.ratings + "）" }),
      table(["时间", "类别", "编号", "内容", "状态", "渠道"], c.history.map((h) => [when(h.at), KINDS[h.kind] || h.kind, h.ref, h.title, h.status, h.channel]))
    );
  }

  async function show(number) {
    const { ok, data } = await api("GET", "/api/v1/customers/" + encodeURIComponent(number));
    if (ok) render(data);
    else $("search-error").textContent = message(data);
  }

  $("search-form").addEventListener("submit", search);
  document.addEventListener("DOMContentLoaded", () => {
    const wanted = decodeURIComponent(window.location.hash.slice(1));
    if (/^\d{10,16}$/.test(wanted)) show(wanted);
  });
})();
