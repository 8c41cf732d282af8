// The scorecards (per agent, per repair crew) of a period, each figure beside the station's
// average, and their CSV export for the performance review. An agent sees only their own card;
// managers and supervisors open the items behind a number on the dashboard's drill-down.
"use strict";

(() => {
  const { api, el, message } = window.Cases;
  const Q = window.Quality;
  const $ = (id) => document.getElementById(id);
  const KINDS = { agent: "坐席", crew: "抢修班组" };
  const VERSUS = { better: "优于全所", worse: "差于全所", same: "与全所持平" };
  let meta = null;

  function query() {
    return new URLSearchParams({ period: $("period").value, kind: $("kind").value });
  }

  // the dashboard's drill-down of the same figure narrowed to this agent or crew, if any
  function drillLink(card, figure) {
    if (meta.me.scope === "own" || !figure.drill) return null;
    const filter = card.subject_kind === "crew" ? "crew" : "agent";
    const params = new URLSearchParams({ period: $("period").value, [filter]: card.subject, key: figure.drill, drill: "1" });
    return "/console/quality?" + params;
  }

  function cell(card, figure) {
    const text = Q.format(figure.value, figure.unit);
    const link = drillLink(card, figure);
    const value = link && figure.value !== null ? el("a", { href: link, text }) : el("span", { text });
    const versus = figure.vs_station ? el("span", { class: "badge " + figure.vs_station, text: VERSUS[figure.vs_station] }) : null;
    return el(
      "td",
      { "data-key": figure.key },
      el("div", { class: "mine" }, value),
      el("div", { class: "station muted", text: "全所 " + Q.format(figure.station, figure.unit) }),
      versus
    );
  }

  function render(data) {
    $("period-label").textContent = Q.periodLabel(data.period);
    const first = data.cards[0];
    if (!first) {
      $("cards").replaceChildren();
      $("summary").textContent = "本期没有评分数据。";
      return;
    }
    $("summary").textContent = "共 " + data.cards.length + " 个" + KINDS[data.kind] + "；每格下方为全所平均。";
    const head = [KINDS[data.kind], ...first.figures.map((f) => f.label)];
    $("cards").replaceChildren(
      el("thead", {}, el("tr", {}, ...head.map((t) => el("th", { scope: "col", text: t })))),
      el(
        "tbody",
        {},
        ...data.cards.map((card) =>
          el("tr", { "data-subject": card.subject }, el("th", { scope: "row", text: card.name }), ...card.figures.map((f) => cell(card, f)))
        )
      )
    );
  }

  async function refresh() {
    $("error").textContent = "";
    $("export").href = "/api/v1/quality/scorecards.csv?" + query();
    Q.writeAddress(Object.fromEntries(query()));
    const { ok, data } = await api("GET", "/api/v1/quality/scorecards?" + query());
    if (!ok) {
      $("error").textContent = message(data) || "加载失败";
      return;
    }
    render(data);
  }

  async function start() {
    const { ok, data } = await api("GET", "/api/v1/quality/meta");
    if (!ok) {
      $("error").textContent = message(data);
      return;
    }
    meta = data;
    const address = Q.readAddress();
    const wanted = address.get("period") || data.default_period;
    $("period").replaceChildren(...data.periods.map((p) => Q.option(p.period, Q.periodLabel(p), p.period === wanted)));
    $("kind").replaceChildren(...data.scorecards.map((k) => Q.option(k, KINDS[k] || k, k === address.get("kind"))));
    $("kind-wrap").hidden = data.scorecards.length < 2;
    $("own-note").hidden = data.me.scope !== "own";
    await refresh();
  }

  $("period").addEventListener("change", refresh);
  $("kind").addEventListener("change", refresh);
  $("filters").addEventListener("submit", (event) => event.preventDefault());
  document.addEventListener("DOMContentLoaded", start);
})();
