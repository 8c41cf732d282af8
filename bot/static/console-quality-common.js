// What the service-quality pages share (the dashboard, the scorecards): how a figure's value,
// target and trend are written, the names of sections, dimensions, statuses and periods, and
// the page's choices kept in its address (so a link opens the same view). Numbers come from
// /api/v1/quality/ unrounded; they are rounded here only, the same way as the CSV export.
"use strict";

window.Quality = (() => {
  const SECTIONS = { repairs: "抢修服务", applications: "业扩报装", complaints: "投诉与意见", conversations: "在线客服" };
  const DIMENSIONS = {
    crew: "抢修班组", area: "区域", fault_type: "故障类型", stage: "环节", type: "业务类型", hour: "时段",
    channel: "渠道", category: "类别", intent: "意图", agent: "坐席", handler: "经办人", state: "状态", day: "日期", reason: "原因",
    handoffs: "转人工次数",
  };
  const STATUSES = { planned: "计划中", in_progress: "进行中", done: "已完成", dropped: "已取消" };
  const GRAINS = { day: "按日", week: "按周", month: "按月" };
  const UNITS = { rate: "%", minutes: " 分钟", hours: " 小时", working_days: " 个工作日", count: "", per_10k: " /万户" };
  const CHANGE_UNITS = { rate: " 个百分点", minutes: " 分钟", hours: " 小时", working_days: " 个工作日", count: "", per_10k: " /万户" };

  // the number as shown: rates in percent, everything with at most one decimal
  function scaled(value, unit) {
    return unit === "rate" ? value * 100 : value;
  }

  function plain(value) {
    const text = (Math.round(value * 10) / 10).toFixed(1);
    return text.endsWith(".0") ? text.slice(0, -2) : text;
  }

  function format(value, unit) {
    if (value === null || value === undefined) return "—";
    return plain(scaled(value, unit)) + (UNITS[unit] === undefined ? "" : UNITS[unit]);
  }

  function target(figure) {
    if (figure.target === null || figure.target === undefined) return "无目标";
    return "目标 " + (figure.better === "higher" ? "≥ " : "≤ ") + format(figure.target, figure.unit);
  }

  // "较上期 ↑ 2.1 个百分点" with whether that is better or worse
  function trend(figure) {
    if (figure.change === null || figure.change === undefined) return { text: "较上期 —", kind: "none" };
    const change = scaled(figure.change, figure.unit);
    const arrow = Math.abs(change) < 0.05 ? "→" : change > 0 ? "↑" : "↓";
    const text = "较上期 " + arrow + " " + plain(Math.abs(change)) + (CHANGE_UNITS[figure.unit] || "");
    return { text, kind: figure.trend || "none" };
  }

  // the badge: met or missed against the target; nothing to say for a count without one
  function verdict(figure) {
    if (figure.meets === true) return { text: "达标", kind: "meets" };
    if (figure.meets === false) return { text: "未达标", kind: "misses" };
    if (figure.value === null || figure.value === undefined) return { text: "无数据", kind: "none" };
    return { text: "", kind: "none" };
  }

  // "2 / 5" (met of counted) for a rate, "共 5 件" for a mean or percentile of items
  function counted(figure) {
    const has = (v) => v !== null && v !== undefined;
    if (!has(figure.denominator)) return null;
    if (figure.unit === "rate" && has(figure.numerator)) return figure.numerator + " / " + figure.denominator;
    if (figure.unit === "per_10k") return "共 " + figure.denominator + " 户";
    return figure.unit === "count" ? null : "共 " + figure.denominator + " 件";
  }

  function periodLabel(entry) {
    const text = entry.period || entry.label;
    if (entry.grain === "month") return text.replace(/^(\d{4})-(\d{2})$/, (_, y, m) => y + "年" + Number(m) + "月");
    if (entry.grain === "quarter") return text.replace(/^(\d{4})-Q(\d)$/, (_, y, q) => y + "年第" + q + "季度");
    if (entry.grain === "year") return text + "年";
    return text.replace("..", " 至 ");
  }

  // the page's choices in its address: ?period=&area=&crew=&agent=&channel=&key=&kind=
  function readAddress() {
    return new URLSearchParams(window.location.search);
  }

  function writeAddress(values) {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(values)) if (value) params.set(name, value);
    const query = params.toString();
    window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
  }

  function option(value, label, selected) {
    const node = document.createElement("option");
    node.value = value;
    node.textContent = label;
    if (selected) node.selected = true;
    return node;
  }

  return {
    SECTIONS, DIMENSIONS, STATUSES, GRAINS, format, scaled, target, trend, verdict, counted,
    periodLabel, readAddress, writeAddress, option,
  };
})();
