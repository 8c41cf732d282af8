// The service-quality dashboard: headline figures against their targets with the trend, a chart
// over time and a breakdown of the chosen figure, the bottleneck sentences, and a drill-down
// from every number to the tickets, applications, complaints or conversations behind it. The
// improvement plan below is console-quality-plan.js. Everything comes from /api/v1/quality/.
"use strict";

(() => {
  const { api, el, when, message } = window.Cases;
  const Q = window.Quality;
  const $ = (id) => document.getElementById(id);
  const FILTERS = ["area", "crew", "agent", "channel", "team"];
  const KINDS = { ticket: "工单", application: "申请", feedback: "投诉/意见", conversation: "会话", outage: "停电" };
  const DRILL_PAGE = 20;
  const state = { meta: null, figures: [], breakdowns: [], key: "", offset: 0, total: 0 };

  function chosenPeriod() {
    return $("period").value === "custom" ? $("period-custom").value.trim() : $("period").value;
  }

  function query(extra) {
    const params = new URLSearchParams();
    const period = chosenPeriod();
    if (period) params.set("period", period);
    for (const name of FILTERS) if ($("filter-" + name).value) params.set(name, $("filter-" + name).value);
    for (const [name, value] of Object.entries(extra || {})) params.set(name, value);
    return params;
  }

  function remember() {
    const values = Object.fromEntries(query({ key: state.key, drill: $("drill").hidden ? "" : "1" }));
    Q.writeAddress(values);
  }

  function fillChoices(meta, address) {
    const wanted = address.get("period") || meta.default_period;
    const known = meta.periods.some((p) => p.period === wanted);
    $("period").replaceChildren(
      ...meta.periods.map((p) => Q.option(p.period, Q.periodLabel(p), p.period === wanted)),
      Q.option("custom", "自定义…", !known)
    );
    if (!known) $("period-custom").value = wanted;
    $("custom-wrap").hidden = known;
    for (const name of FILTERS) {
      const options = meta.filters[name];
      document.querySelector(`[data-filter="${name}"]`).hidden = !options;
      if (!options) continue;
      $("filter-" + name).append(...options.map((o) => Q.option(o.value, o.label, o.value === address.get(name))));
    }
    $("grain").replaceChildren(Q.option("", "自动", true), ...meta.grains.map((g) => Q.option(g, Q.GRAINS[g] || g, false)));
    $("chart-figure").replaceChildren(...meta.figures.map((f) => Q.option(f.key, Q.SECTIONS[f.section] + " · " + f.label, false)));
    $("scope-note").hidden = meta.me.scope !== "chat_desk";
    $("team-note").hidden = !meta.team;
    $("team-name").textContent = meta.team ? meta.team.name : "";
  }

  function card(f) {
    const trend = Q.trend(f);
    const verdict = Q.verdict(f);
    const count = Q.counted(f);
    return el(
      "article",
      { class: "figure " + verdict.kind, "data-key": f.key },
      el("h4", { text: f.label }),
      el("button", { type: "button", class: "value linkish", title: "查看明细", text: Q.format(f.value, f.unit), onclick: () => choose(f.key, true) }),
      el("p", { class: "target", text: Q.target(f) }),
      el("p", { class: "trend " + trend.kind, text: trend.text }),
      count ? el("p", { class: "ratio muted", text: count }) : null,
      verdict.text ? el("span", { class: "badge " + verdict.kind, text: verdict.text }) : null
    );
  }

  function renderFigures(data) {
    $("period-label").textContent = Q.periodLabel(data.period);
    $("compared").textContent = "趋势对比：" + Q.periodLabel(data.compared_with);
    const groups = state.meta.sections.map((section) => {
      const figures = data.figures.filter((f) => f.section === section);
      if (!figures.length) return null;
      return el("div", { class: "section", "data-section": section }, el("h3", { text: Q.SECTIONS[section] }), el("div", { class: "cards" }, ...figures.map(card)));
    });
    $("figures").replaceChildren(...groups.filter(Boolean));
  }

  function renderBottlenecks(data) {
    const items = data.bottlenecks.map((b) =>
      el("li", {}, el("button", { type: "button", class: "linkish", text: b.sentence, onclick: () => choose(b.key, true, b.dimension) }))
    );
    if (!items.length) items.push(el("li", { class: "muted", text: "本期所有有目标的指标均已达标，或暂无数据。" }));
    $("bottleneck-list").replaceChildren(...items);
  }

  function figureOf(key) {
    return state.figures.find((f) => f.key === key) || { key, label: key, unit: "count", target: null };
  }

  async function loadSeries() {
    const figure = figureOf(state.key);
    const { ok, data } = await api("GET", "/api/v1/quality/series?" + query({ key: state.key, grain: $("grain").value }));
    if (!ok) return showError(data);
    window.QualityCharts.line($("chart"), $("chart-data"), data.points, figure);
  }

  function renderBreakdown(dimension) {
    const found = state.breakdowns.filter((b) => b.key === state.key && b.rows.length);
    const wanted = found.find((b) => b.dimension === dimension) ? dimension : $("breakdown-dimension").value;
    $("breakdown-dimension").replaceChildren(...found.map((b) => Q.option(b.dimension, Q.DIMENSIONS[b.dimension] || b.dimension, b.dimension === wanted)));
    const chosen = found.find((b) => b.dimension === $("breakdown-dimension").value);
    $("breakdown-empty").hidden = Boolean(chosen);
    if (chosen) window.QualityCharts.bars($("breakdown-chart"), $("breakdown-data"), chosen.rows, figureOf(state.key));
    else window.QualityCharts.clear($("breakdown-chart"), $("breakdown-data"));
  }

  function choose(key, drill, dimension) {
    state.key = key;
    $("chart-figure").value = key;
    for (const node of document.querySelectorAll(".figure")) node.classList.toggle("chosen", node.dataset.key === key);
    remember();
    loadSeries();
    renderBreakdown(dimension);
    if (drill) loadDrill(0, true);
  }

  function drillCell(row) {
    const text = (KINDS[row.kind] || row.kind) + " " + row.ref;
    return row.link ? el("a", { href: row.link, text }) : el("span", { text });
  }

  async function loadDrill(offset, scroll) {
    const figure = figureOf(state.key);
    const { ok, data } = await api("GET", "/api/v1/quality/drill?" + query({ key: state.key, limit: DRILL_PAGE, offset }));
    if (!ok) return showError(data);
    state.offset = data.offset;
    state.total = data.total;
    const details = [...new Set(data.rows.flatMap((r) => Object.keys(r.detail)))];
    // a rate's items carry their own measure (minutes, days...), not a rate
    const unit = figure.unit === "rate" ? "" : figure.unit;
    const head = ["编号", "时间", unit ? figure.label : "本项数值", "是否达标", ...details.map((d) => Q.DIMENSIONS[d] || d)];
    const rows = data.rows.map((r) =>
      el(
        "tr",
        { class: r.meets === false ? "overdue" : "", "data-ref": r.ref },
        el("td", {}, drillCell(r)),
        el("td", { text: when(r.at) }),
        el("td", { text: Q.format(r.value, unit) }),
        el("td", { text: r.meets === null ? "—" : r.meets ? "是" : "否" }),
        ...details.map((d) => el("td", { text: r.detail[d] || "—" }))
      )
    );
    $("drill-table").replaceChildren(
      el("thead", {}, el("tr", {}, ...head.map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, ...rows)
    );
    $("drill-title").textContent = "明细：" + data.label;
    const last = Math.min(data.offset + data.rows.length, data.total);
    $("drill-summary").textContent = data.total ? `共 ${data.total} 条，第 ${data.offset + 1}–${last} 条` : "本期没有明细。";
    $("drill-prev").disabled = data.offset === 0;
    $("drill-next").disabled = last >= data.total;
    $("drill").hidden = false;
    remember();
    if (scroll) $("drill").scrollIntoView({ block: "start" });
  }

  function showError(data) {
    $("error").textContent = message(data) || "加载失败，请稍后重试";
  }

  async function refresh() {
    $("error").textContent = "";
    const { ok, data } = await api("GET", "/api/v1/quality/dashboard?" + query());
    if (!ok) return showError(data);
    state.figures = data.figures;
    state.breakdowns = data.breakdowns;
    renderFigures(data);
    renderBottlenecks(data);
    window.QualityPlan.figures(data.figures);
    const keys = data.figures.map((f) => f.key);
    choose(keys.includes(state.key) ? state.key : keys[0] || "", !$("drill").hidden);
  }

  async function start() {
    const { ok, data } = await api("GET", "/api/v1/quality/meta");
    if (!ok) return showError(data);
    state.meta = data;
    const address = Q.readAddress();
    fillChoices(data, address);
    state.key = address.get("key") || "";
    window.QualityPlan.start(data);
    await refresh();
    if (address.get("drill") === "1" && state.key) loadDrill(0, true);
  }

  $("period").addEventListener("change", () => {
    $("custom-wrap").hidden = $("period").value !== "custom";
    if ($("period").value !== "custom") refresh();
  });
  for (const name of FILTERS) $("filter-" + name).addEventListener("change", refresh);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  $("chart-figure").addEventListener("change", () => choose($("chart-figure").value, false));
  $("grain").addEventListener("change", loadSeries);
  $("breakdown-dimension").addEventListener("change", () => renderBreakdown($("breakdown-dimension").value));
  $("drill-prev").addEventListener("click", () => loadDrill(Math.max(0, state.offset - DRILL_PAGE), false));
  $("drill-next").addEventListener("click", () => loadDrill(state.offset + DRILL_PAGE, false));
  document.addEventListener("DOMContentLoaded", start);
})();
