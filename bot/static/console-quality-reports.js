// The evaluation reports' list: GET /api/v1/quality/reports, a row per stored report with its
// downloads and the reports it can be compared with (the previous period's, the same period's a
// year before); managers also get "generate now" (POST with the CSRF token in X-CSRF-Token).
// Texts only via textContent (the page's Content-Security-Policy allows no HTML from script).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  let reports = [];

  function link(href, text, download) {
    const a = document.createElement("a");
    a.href = href;
    a.textContent = text;
    if (download) a.setAttribute("download", "");
    return a;
  }

  function cell(...children) {
    const td = document.createElement("td");
    for (const child of children) td.append(child);
    return td;
  }

  function row(report) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(report.id);
    const made = report.generated_at.replace("T", " ").slice(0, 16);
    const by = report.scheduled ? "到期自动生成" : `${report.generated_by} 手动生成`;
    const files = ["pdf", "xlsx", "csv"].map((f) => link(report.links[f], f.toUpperCase(), true));
    const compare = [];
    if (report.previous_id) compare.push(link(`/console/quality/reports/${report.previous_id}`, "上期"));
    if (report.year_before_id) {
      compare.push(link(`/console/quality/reports/${report.year_before_id}`, "去年同期"));
    }
    tr.append(
      cell(link(report.links.page, report.title)),
      cell(report.kind_name),
      cell(report.period),
      cell(made),
      cell(by),
      cell(...files),
      cell(...(compare.length ? compare : ["—"])),
    );
    return tr;
  }

  function show() {
    const kind = $("kind").value;
    const shown = reports.filter((r) => !kind || r.kind === kind);
    $("reports").replaceChildren(...shown.map(row));
    $("empty").hidden = shown.length > 0;
  }

  async function call(method, body) {
    const headers = { Accept: "application/json" };
    if (method !== "GET") Object.assign(headers, { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    const response = await fetch("/api/v1/quality/reports", {
      method,
      credentials: "same-origin",
      headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("logged out");
    }
    return { ok: response.ok, status: response.status, data: await response.json() };
  }

  async function load() {
    const answer = await call("GET");
    reports = answer.ok ? answer.data.reports : [];
    show();
  }

  async function generate(event) {
    event.preventDefault();
    const period = $("period").value.trim();
    if (!period) return;
    $("generate-button").disabled = true;
    $("status").textContent = "正在生成报告（年度报告可能需要一分钟），请稍候…";
    try {
      const answer = await call("POST", { period });
      if (!answer.ok) {
        const message = (answer.data.error && answer.data.error.message) || String(answer.status);
        $("status").textContent = "未能生成：" + message;
        return;
      }
      $("status").textContent = "";
      $("status").append("已生成：", link(answer.data.report.links.page, answer.data.report.title));
      await load();
    } catch (error) {
      $("status").textContent = "未能生成：网络错误，请重试。";
    } finally {
      $("generate-button").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("generate").hidden = document.body.dataset.mayGenerate !== "1";
    $("generate-form").addEventListener("submit", generate);
    $("kind").addEventListener("change", show);
    load();
  });
})();
