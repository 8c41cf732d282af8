// The improvement plan on the dashboard (the paper's 3.1): each measure with the figure it
// should move, its baseline, target and the figure's value in the chosen period, its owner, due
// date and status. The manager adds and edits measures here (/api/v1/quality/plan); others read.
// Baselines and targets of rates are typed and shown in percent, kept as 0..1 like the figures.
"use strict";

window.QualityPlan = (() => {
  const { api, el, message } = window.Cases;
  const Q = window.Quality;
  const $ = (id) => document.getElementById(id);
  const state = { meta: null, measures: [], figures: [], editing: null };

  function figure(key) {
    return state.figures.find((f) => f.key === key) || { key, unit: "count", value: null };
  }

  function row(m) {
    const f = figure(m.figure);
    const status = el("span", { class: "badge status-" + m.status, text: Q.STATUSES[m.status] || m.status });
    const due = el("span", { text: m.due || "—" });
    if (m.overdue) due.append(el("span", { class: "badge late", text: "逾期" }));
    const edit = state.meta.plan.editable ? el("button", { type: "button", text: "编辑", onclick: () => open(m) }) : null;
    return el(
      "tr",
      { "data-measure": String(m.id), class: m.overdue ? "overdue" : "" },
      el("td", { text: m.title }),
      el("td", { text: m.figure_label }),
      el("td", { text: Q.format(m.baseline, f.unit) }),
      el("td", { text: Q.format(m.target, f.unit) }),
      el("td", { text: Q.format(f.value, f.unit) }),
      el("td", { text: m.owner_name || "—" }),
      el("td", {}, due),
      el("td", {}, status),
      el("td", { class: "notes", text: m.notes || "" }),
      el("td", {}, edit)
    );
  }

  function render() {
    const head = ["措施", "指标", "基线", "目标", "本期数值", "负责人", "期限", "状态", "进展说明", ""];
    const rows = state.measures.map(row);
    if (!rows.length) rows.push(el("tr", {}, el("td", { colspan: String(head.length), class: "muted", text: "尚无改进措施。" })));
    $("plan-table").replaceChildren(
      el("thead", {}, el("tr", {}, ...head.map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, ...rows)
    );
  }

  async function load() {
    const { ok, data } = await api("GET", "/api/v1/quality/plan");
    if (!ok) {
      $("plan-error").textContent = message(data);
      return;
    }
    state.measures = data.measures;
    render();
  }

  // a figure's value for the input: percent for rates
  function shown(value, unit) {
    if (value === null || value === undefined) return "";
    return String(Math.round(Q.scaled(value, unit) * 1000) / 1000);
  }

  function read(id, unit) {
    const text = $(id).value.trim();
    if (!text) return null;
    const value = Number(text);
    if (!Number.isFinite(value)) return NaN;
    return unit === "rate" ? value / 100 : value;
  }

  function open(measure) {
    state.editing = measure;
    const f = figure(measure ? measure.figure : $("plan-figure").value);
    $("plan-form-title").textContent = measure ? "修改改进措施" : "新增改进措施";
    $("plan-title-input").value = measure ? measure.title : "";
    if (measure) $("plan-figure").value = measure.figure;
    $("plan-baseline").value = shown(measure ? measure.baseline : f.value, f.unit);
    $("plan-target").value = shown(measure ? measure.target : f.target, f.unit);
    $("plan-owner").value = measure && measure.owner ? measure.owner : "";
    $("plan-due").value = measure && measure.due ? measure.due : "";
    $("plan-status").value = measure ? measure.status : state.meta.plan.statuses[0];
    $("plan-notes").value = measure && measure.notes ? measure.notes : "";
    $("plan-form").hidden = false;
    $("plan-title-input").focus();
  }

  // a new measure starts from its figure now and the figure's target
  function prefill() {
    if (state.editing) return;
    const f = figure($("plan-figure").value);
    $("plan-baseline").value = shown(f.value, f.unit);
    $("plan-target").value = shown(f.target, f.unit);
  }

  function body() {
    const unit = figure($("plan-figure").value).unit;
    return {
      title: $("plan-title-input").value.trim(),
      figure: $("plan-figure").value,
      baseline: read("plan-baseline", unit),
      target: read("plan-target", unit),
      owner: $("plan-owner").value || null,
      due: $("plan-due").value || null,
      status: $("plan-status").value,
      notes: $("plan-notes").value.trim() || null,
    };
  }

  async function save(event) {
    event.preventDefault();
    $("plan-error").textContent = "";
    $("plan-ok").textContent = "";
    const payload = body();
    if (Number.isNaN(payload.baseline) || Number.isNaN(payload.target)) {
      $("plan-error").textContent = "基线值和目标值须为数字";
      return;
    }
    const path = state.editing ? "/api/v1/quality/plan/" + state.editing.id : "/api/v1/quality/plan";
    const { ok, data } = await api("POST", path, payload);
    if (!ok) {
      $("plan-error").textContent = message(data);
      return;
    }
    $("plan-ok").textContent = state.editing ? "已保存修改：" + data.title : "已新增措施：" + data.title;
    $("plan-form").hidden = true;
    state.editing = null;
    await load();
  }

  function start(meta) {
    state.meta = meta;
    const editable = meta.plan.editable;
    $("plan-readonly").hidden = editable;
    $("plan-new").hidden = !editable;
    if (editable) {
      $("plan-figure").replaceChildren(...meta.figures.map((f) => Q.option(f.key, Q.SECTIONS[f.section] + " · " + f.label, false)));
      $("plan-owner").append(...meta.owners.map((o) => Q.option(o.value, o.label + "（" + o.value + "）", false)));
      $("plan-status").replaceChildren(...meta.plan.statuses.map((s) => Q.option(s, Q.STATUSES[s] || s, false)));
      $("plan-new").addEventListener("click", () => open(null));
      $("plan-figure").addEventListener("change", prefill);
      $("plan-cancel").addEventListener("click", () => {
        $("plan-form").hidden = true;
        state.editing = null;
      });
      $("plan-form").addEventListener("submit", save);
    }
    load();
  }

  // the dashboard's figures of the chosen period (the plan shows each measure's figure now)
  function figures(list) {
    state.figures = list;
    render();
  }

  return { start, figures };
})();
