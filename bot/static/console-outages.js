// Outage notices (/console/outages): suspected outages from clustered fault reports, the
// publishing form, and every outage with its notices and their delivery progress. Data from
// /api/v1/outages with the session cookie; every POST carries the page's CSRF token. No
// innerHTML anywhere (the CSP requires Trusted Types): text goes in with textContent.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const BASE = "/api/v1/outages";
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const REFRESH_MS = 15000;
  const STATUS = { active: "停电中", upcoming: "待停电", restored: "已恢复送电", cancelled: "已取消" };
  const NOTICE = {
    published: "发布", updated: "信息更新", postponed: "改期", cancelled: "取消", reminder: "前一天提醒",
    cause_found: "查明原因", eta_changed: "调整预计恢复", restored: "恢复送电", safety: "安全提醒",
  };
  const ACTIONS = {
    edit: { label: "修改信息", fields: ["areas", "reason", "advice", "starts_at", "expected_restore_at", "note"] },
    postpone: { label: "改期", fields: ["starts_at", "expected_restore_at", "note"] },
    cancel: { label: "取消停电", fields: ["note"] },
    progress: { label: "抢修进展（原因/预计恢复）", fields: ["cause", "expected_restore_at", "note"] },
    safety: { label: "安全提醒（夜间也立即发送）", fields: ["note"] },
    restore: { label: "登记恢复送电", fields: ["restored_at"] },
  };
  const FIELD_NAMES = {
    areas: "停电区域（如 东山村3组、西河村）", reason: "停电原因", advice: "客户注意事项", starts_at: "开始时间",
    expected_restore_at: "预计恢复时间", note: "说明", cause: "查明的原因", restored_at: "恢复时间（不填为现在）",
  };
  const TIME_FIELDS = new Set(["starts_at", "expected_restore_at", "restored_at"]);
  let kinds = {};

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function when(iso) {
    return iso ? iso.replace("T", " ").slice(0, 16) : "待定";
  }

  function say(id, message) {
    const box = $(id);
    box.textContent = message || "";
    box.hidden = !message;
  }

  // once the logout is submitted nothing runs in the background: a request racing the logout
  // would be answered 401 while the page leaves
  let leaving = false;
  document.querySelector("form.logout")?.addEventListener("submit", () => { leaving = true; });

  async function call(method, path, body, background) {
    if (background && leaving) return null;
    const headers = { Accept: "application/json" };
    if (method !== "GET") {
      headers["X-CSRF-Token"] = CSRF;
      headers["Content-Type"] = "application/json";
    }
    if (background) headers["X-Console-Background"] = "1";
    const response = await fetch(BASE + path, {
      method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      return null;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      say("error", (data.error && data.error.message) || "操作失败 " + response.status);
      return null;
    }
    say("error", "");
    return data;
  }

  function published(data, what) {
    if (!data) return;
    const outage = data.outage;
    say("done", what + "：" + outage.outage_no + "（" + outage.areas + "）。通知已排队，正在发送给受影响的客户。");
    say("warning", data.warning ? data.warning.message : "");
  }

  function splitAreas(text) {
    return (text || "").split(/[、，,;；]+/).map((s) => s.trim()).filter(Boolean);
  }

  // --- the publishing form --------------------------------------------------------------

  function fillOptions(options) {
    const kind = $("p-kind");
    for (const item of options.kinds) {
      kinds[item.code] = item.label;
      const option = el("option", item.label);
      option.value = item.code;
      kind.append(option);
    }
    const commitment = options.commitment;
    const explain = () => {
      const days = { planned: commitment.planned_days + "天", temporary: commitment.temporary_days * 24 + "小时" }[kind.value];
      $("p-commitment").textContent = days ? "承诺：提前" + days + "通知客户" : "故障停电：立即通知";
    };
    kind.addEventListener("change", explain);
    explain();
    const box = $("p-areas");
    for (const area of options.areas) {
      const label = el("label", null, "area");
      const input = el("input");
      input.type = "checkbox";
      input.value = area.code;
      input.name = "area";
      label.append(input, " " + area.name + "（订阅" + area.subscribers + "）");
      box.append(label);
    }
    for (const feeder of options.feeders) {
      const option = el("option", feeder.name);
      option.value = feeder.code;
      $("p-feeder").append(option);
    }
    const quiet = options.quiet_hours;
    $("p-quiet").textContent = "夜间 " + quiet.start + "-" + quiet.end + " 不发送一般通知（次日早上发出）；恢复送电和安全提醒随时发送。";
  }

  async function publish(event) {
    event.preventDefault();
    const form = $("publish-form");
    const areas = [...form.querySelectorAll('input[name="area"]:checked')].map((i) => i.value);
    const body = {
      kind: $("p-kind").value,
      areas: areas.concat(splitAreas($("p-groups").value)),
      feeder: $("p-feeder").value || undefined,
      starts_at: $("p-start").value || undefined,
      expected_restore_at: $("p-end").value || undefined,
      reason: $("p-reason").value,
    };
    for (const [id, name] of [["p-advice", "advice"], ["p-reason-en", "reason_en"], ["p-advice-en", "advice_en"]]) {
      if ($(id).value.trim()) body[name] = $(id).value.trim();
    }
    $("p-submit").disabled = true;
    try {
      const data = await call("POST", "", body);
      if (data) {
        published(data, "已发布");
        form.reset();
        $("p-kind").dispatchEvent(new Event("change"));
        await load(false);
      }
    } finally {
      $("p-submit").disabled = false;
    }
  }

  // --- suspected outages ----------------------------------------------------------------

  function suspectCard(suspect) {
    const card = el("article", null, "suspect");
    card.dataset.key = suspect.key;
    const where = suspect.feeder ? suspect.feeder.name + "（" + suspect.areas.map((a) => a.name).join("、") + "）" : suspect.areas[0].name;
    card.append(el("h3", where + "：" + suspect.reports.length + " 起报修，" + when(suspect.first_at) + " 至 " + when(suspect.last_at)));
    const list = el("ul", null, "reports");
    for (const report of suspect.reports) {
      list.append(el("li", report.ticket_no + "  " + when(report.created_at) + "  " + (report.address || report.area || "") + "  " + report.description));
    }
    card.append(list);
    const form = el("form", null, "confirm");
    const reason = field(form, "reason-" + suspect.key, "停电原因", "input");
    reason.required = true;
    reason.value = "故障停电，原因排查中";
    const end = field(form, "end-" + suspect.key, "预计恢复时间", "input");
    end.type = "datetime-local";
    const advice = field(form, "advice-" + suspect.key, "客户注意事项", "input");
    const button = el("button", "发布为故障停电并通知报修客户");
    button.type = "submit";
    form.append(button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      button.disabled = true;
      const body = { key: suspect.key, reason: reason.value, expected_restore_at: end.value || undefined, advice: advice.value || undefined };
      const data = await call("POST", "/suspected/publish", body);
      button.disabled = false;
      if (data) {
        published(data, "已发布故障停电（并入报修 " + data.attached.length + " 单）");
        await load(false);
      }
    });
    card.append(form);
    return card;
  }

  function field(form, id, label, tag) {
    const wrap = el("span", null, "field");
    const name = el("label", label);
    name.htmlFor = id;
    const input = el(tag);
    input.id = id;
    wrap.append(name, input);
    form.append(wrap);
    return input;
  }

  // --- outages --------------------------------------------------------------------------

  function available(outage) {
    const announced = outage.kind !== "fault";
    if (outage.status === "upcoming") return ["edit", "postpone", "cancel", "safety"];
    if (outage.status === "active") return ["edit", "progress", "safety", "restore"].concat(announced ? ["cancel"] : []);
    return [];
  }

  function actionForm(outage) {
    const actions = available(outage);
    if (!actions.length) return null;
    const details = el("details", null, "actions");
    details.append(el("summary", "操作"));
    const form = el("form");
    const chooser = el("select");
    chooser.setAttribute("aria-label", "操作");
    for (const action of actions) {
      const option = el("option", ACTIONS[action].label);
      option.value = action;
      chooser.append(option);
    }
    form.append(chooser);
    const inputs = {};
    for (const name of Object.keys(FIELD_NAMES)) {
      const input = field(form, outage.outage_no + "-" + name, FIELD_NAMES[name], "input");
      if (TIME_FIELDS.has(name)) input.type = "datetime-local";
      input.name = name;
      inputs[name] = input;
    }
    const show = () => {
      const wanted = new Set(ACTIONS[chooser.value].fields);
      for (const [name, input] of Object.entries(inputs)) input.parentElement.hidden = !wanted.has(name);
    };
    chooser.addEventListener("change", show);
    show();
    const button = el("button", "提交并通知客户");
    button.type = "submit";
    form.append(button);
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const action = chooser.value;
      const body = {};
      for (const name of ACTIONS[action].fields) {
        const value = inputs[name].value.trim();
        if (!value) continue;
        body[name] = name === "areas" ? splitAreas(value) : value;
      }
      if (action === "cancel" && !window.confirm("确定取消停电 " + outage.outage_no + "？客户会收到取消通知。")) return;
      button.disabled = true;
      const data = await call("POST", "/" + encodeURIComponent(outage.outage_no) + "/" + action, body);
      button.disabled = false;
      if (data) {
        published(data, ACTIONS[action].label + "已发布");
        await load(false);
      }
    });
    details.append(form);
    return details;
  }

  function noticeLine(notice) {
    const p = notice.progress;
    const told = p.sent + p.stored;
    const parts = [NOTICE[notice.kind] || notice.kind, when(notice.created_at), notice.created_by];
    const state = notice.state === "queued" ? "等待发送" : "已通知 " + told + "/" + notice.recipients + " 位客户";
    const extra = [p.waiting ? "待发 " + p.waiting : "", p.held ? "暂缓 " + p.held : "", p.failed ? "失败 " + p.failed : "", p.blocked ? "已拉黑 " + p.blocked : "", p.superseded ? "已过时未发 " + p.superseded : ""].filter(Boolean);
    const why = (notice.undeliverable_reasons || []).map((r) => r.reason + " " + r.count);
    if (p.undeliverable) extra.push("无法送达 " + p.undeliverable + (why.length ? "：" + why.join("；") : ""));
    const item = el("li", parts.join(" · ") + " — " + state + (extra.length ? "（" + extra.join("，") + "）" : ""));
    item.title = notice.text;
    item.className = "notice";
    item.dataset.kind = notice.kind;
    return item;
  }

  function outageCard(outage) {
    const card = el("article", null, "outage " + outage.status);
    card.dataset.outage = outage.outage_no;
    const head = el("h3", outage.outage_no + " · " + outage.kind_label + " · " + (STATUS[outage.status] || outage.status));
    if (outage.notice_missed) head.append(el("span", "通知未达承诺", "late"));
    card.append(head);
    const facts = el("dl");
    const rows = [
      ["区域", outage.areas + (outage.feeder ? "（" + outage.feeder.name + "）" : "")],
      ["时间", when(outage.starts_at) + " 至 " + when(outage.expected_restore_at) + (outage.restored_at ? "，" + when(outage.restored_at) + " 已恢复" : "")],
      ["原因", outage.reason],
      ["注意事项", outage.advice || "—"],
      ["订阅客户 / 并入报修", outage.subscribers + " / " + outage.attached_reports],
    ];
    for (const [name, value] of rows) facts.append(el("dt", name), el("dd", value));
    card.append(facts);
    const notices = el("ul", null, "notices");
    for (const notice of outage.notices) notices.append(noticeLine(notice));
    card.append(notices);
    const actions = actionForm(outage);
    if (actions) card.append(actions);
    return card;
  }

  let options = null;

  async function load(background) {
    if (!options) {
      options = await call("GET", "/options", undefined, background);
      if (options) fillOptions(options);
    }
    const data = await call("GET", "", undefined, background);
    if (!data) return;
    const open = new Set([...document.querySelectorAll("details.actions[open]")].map((d) => d.closest("article").dataset.outage));
    if (open.size && background) return; // someone is filling in a form: do not redraw under them
    $("suspects").replaceChildren(...data.suspects.map(suspectCard));
    $("suspects-box").hidden = data.suspects.length === 0;
    const cards = data.outages.map(outageCard);
    $("outages").replaceChildren(...(cards.length ? cards : [el("p", "暂无停电事件。", "empty")]));
  }

  $("publish-form").addEventListener("submit", publish);
  load(false);
  setInterval(() => {
    if (!document.querySelector("#suspects form input:focus")) load(true);
  }, REFRESH_MS);
})();
