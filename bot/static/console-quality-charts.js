// The dashboard's charts, drawn by Apache ECharts (bot/static/echarts.min.js, vendored): a figure
// over time with its target as a line, and a figure split by crew, area, stage... as bars. Each
// chart also fills a plain table of its numbers (under "查看数据"), for screen readers and for
// anyone who wants the exact values. Tooltips are drawn on the canvas (renderMode richText):
// the page allows ECharts no HTML (console-chart-policy.js).
"use strict";

window.QualityCharts = (() => {
  const { format, scaled } = window.Quality;
  const { el } = window.Cases;
  const BRAND = "#0a5cad";
  const TARGET = "#b3261e";

  function instance(node) {
    return window.echarts.getInstanceByDom(node) || window.echarts.init(node, null, { renderer: "canvas" });
  }

  function axisLabel(unit) {
    return { formatter: (v) => (unit === "rate" ? v + "%" : String(v)) };
  }

  function targetLine(figure) {
    if (figure.target === null || figure.target === undefined) return undefined;
    return {
      symbol: "none",
      lineStyle: { color: TARGET, type: "dashed" },
      label: { formatter: "目标 " + format(figure.target, figure.unit), position: "insideEndTop" },
      data: [{ yAxis: scaled(figure.target, figure.unit) }],
    };
  }

  function table(node, head, rows) {
    node.replaceChildren(
      el("thead", {}, el("tr", {}, ...head.map((t) => el("th", { scope: "col", text: t })))),
      el("tbody", {}, ...rows.map((r) => el("tr", {}, ...r.map((c) => el("td", { text: c })))))
    );
  }

  // `zero`: the value axis starts at 0 (bars), else it fits the values (lines of times)
  function common(figure, zero) {
    return {
      animation: false,
      grid: { left: 56, right: 24, top: 28, bottom: 36 },
      tooltip: { trigger: "axis", renderMode: "richText", valueFormatter: (v) => (v === null || v === undefined ? "—" : format(figure.unit === "rate" ? v / 100 : v, figure.unit)) },
      yAxis: { type: "value", axisLabel: axisLabel(figure.unit), scale: !zero && figure.unit !== "rate" },
    };
  }

  // points: [{date, value}] of /api/v1/quality/series
  function line(node, data, points, figure) {
    const values = points.map((p) => (p.value === null ? null : scaled(p.value, figure.unit)));
    instance(node).setOption(
      {
        ...common(figure, false),
        xAxis: { type: "category", data: points.map((p) => p.date), boundaryGap: false },
        series: [{ name: figure.label, type: "line", data: values, connectNulls: false, itemStyle: { color: BRAND }, markLine: targetLine(figure) }],
      },
      { notMerge: true }
    );
    table(data, ["日期", figure.label], points.map((p) => [p.date, format(p.value, figure.unit)]));
  }

  // rows: [{label, value, numerator, denominator}] of a breakdown
  function bars(node, data, rows, figure) {
    const shown = rows.map((r) => (r.value === null ? null : scaled(r.value, figure.unit)));
    instance(node).setOption(
      {
        ...common(figure, true),
        xAxis: { type: "category", data: rows.map((r) => r.label), axisLabel: { interval: 0, rotate: rows.length > 6 ? 30 : 0 } },
        series: [{ name: figure.label, type: "bar", data: shown, itemStyle: { color: BRAND }, markLine: targetLine(figure) }],
      },
      { notMerge: true }
    );
    const count = (r) => (r.denominator === null || r.denominator === undefined ? "—" : r.numerator + " / " + r.denominator);
    table(data, ["分组", figure.label, "件数"], rows.map((r) => [r.label, format(r.value, figure.unit), count(r)]));
  }

  function clear(node, data) {
    const chart = window.echarts.getInstanceByDom(node);
    if (chart) chart.clear();
    data.replaceChildren();
  }

  window.addEventListener("resize", () => {
    for (const node of document.querySelectorAll(".chart")) {
      const chart = window.echarts.getInstanceByDom(node);
      if (chart) chart.resize();
    }
  });

  return { line, bars, clear };
})();
