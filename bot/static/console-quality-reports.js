// The evaluation reports' list: GET /api/v1/quality/reports, a row per stored report with its
// downloads and the reports it can be compared with (the previous period's, the same period's a
// year before); managers also get "generate now" (POST with the CSRF token in X-CSRF-Token),
// which starts a job in the background (202). The jobs (GET /api/v1/quality/reports/jobs) are
// shown to managers and supervisors and polled every few seconds while one runs; when one ends
// the list is read again and the outcome said. The button is disabled for a period whose report
// is being made (and while as many run as the gateway allows).
// Texts only via textContent (the page's Content-Security-Policy allows no HTML from script).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const API = "/api/v1/quality/reports";
  const POLL_MS = 3000;
  let reports = [];
  let jobs = [];
  let maxRunning = 1;
  let pollTimer = null;
  let asking = false;
  const watched = new Set(); // the running jobs whose end this page announces

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

  function minutes(iso) {
    return iso ? iso.replace("T", " ").slice(0, 16) : "—";
  }

  function row(report) {
    const tr = document.createElement("tr");
    tr.dataset.id = String(report.id);
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
      cell(minutes(report.generated_at)),
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

  // once the logout is submitted nothing runs in the background: a request racing the logout
  // would be answered 401 while the page leaves
  let leaving = false;
  document.querySelector("form.logout")?.addEventListener("submit", () => { leaving = true; });

  // background: polling nobody clicked for, which does not keep the session alive
  async function call(method, path, body, background) {
    if (background && leaving) throw new Error("logged out");
    const headers = { Accept: "application/json" };
    if (background) headers["X-Console-Background"] = "1";
    if (method !== "GET") Object.assign(headers, { "Content-Type": "application/json", "X-CSRF-Token": csrf });
    const response = await fetch(API + path, {
      method,
      credentials: "same-origin",
      headers,
      body: body ? JSON.stringify(body) : undefined,
    });
    if (response.status === 401) {
      window.location.assign("/console/login");
      throw new Error("logged out");
    }
    return { ok: response.ok, status: response.status, data: await response.json().catch(() => ({})) };
  }

  async function load() {
    const answer = await call("GET", "");
    reports = answer.ok ? answer.data.reports : [];
    show();
  }

  // --- the jobs -------------------------------------------------------------------------

  function jobName(job) {
    return `${job.period}（${job.kind_name}）`;
  }

  function jobState(job) {
    const span = document.createElement("span");
    span.className = `job-state job-${job.state}`;
    span.textContent = job.state === "running" ? "生成中…" : job.state_name;
    return span;
  }

  function jobResult(job) {
    if (job.state === "done" && job.links) return link(job.links.page, job.title);
    if (job.state === "running") return "完成后出现在下方列表中";
    return job.error || "—";
  }

  function jobRow(job) {
    const tr = document.createElement("tr");
    tr.dataset.job = String(job.id);
    tr.dataset.state = job.state;
    tr.append(
      cell(jobName(job)),
      cell(jobState(job)),
      cell(job.started_at.replace("T", " ").slice(0, 19)),
      cell(job.requested_by),
      cell(jobResult(job)),
    );
    return tr;
  }

  function running() {
    return jobs.filter((j) => j.state === "running");
  }

  // the period typed, as the server labels it (2026-q4 → 2026-Q4)
  function typedPeriod() {
    return $("period").value.trim().toUpperCase();
  }

  function updateButton() {
    const now = running();
    const same = now.find((j) => j.period === typedPeriod());
    const full = now.length >= maxRunning;
    $("generate-button").disabled = asking || Boolean(same) || full;
    let hint = "";
    if (same) hint = `${same.period} 的报告正在生成（${same.requested_by} 于 ${same.started_at.slice(11, 16)} 开始），完成前不能再次生成。`;
    else if (full) hint = `已有 ${now.length} 份报告正在生成，请等其中一份完成。`;
    $("busy-hint").textContent = hint;
    $("busy-hint").hidden = !hint;
  }

  function announce(job) {
    $("status").textContent = "";
    if (job.state === "done" && job.links) {
      $("status").append("已生成：", link(job.links.page, job.title));
    } else {
      $("status").textContent = `未能生成 ${jobName(job)}：${job.error || job.state_name}`;
    }
  }

  function showJobs() {
    $("jobs").replaceChildren(...jobs.map(jobRow));
    $("jobs-section").hidden = jobs.length === 0;
    updateButton();
  }

  async function loadJobs(background) {
    clearTimeout(pollTimer);
    let answer;
    try {
      answer = await call("GET", "/jobs", undefined, background);
    } catch (error) {
      answer = { ok: false };
    }
    if (answer.ok) {
      jobs = answer.data.jobs;
      maxRunning = answer.data.max_running;
      const ended = jobs.filter((j) => j.state !== "running" && watched.has(j.id));
      for (const job of ended) watched.delete(job.id);
      for (const job of running()) watched.add(job.id);
      showJobs();
      if (ended.length) {
        announce(ended[0]);
        await load();
      }
    }
    if (running().length || !answer.ok) pollTimer = setTimeout(() => loadJobs(true), POLL_MS);
  }

  async function generate(event) {
    event.preventDefault();
    const period = $("period").value.trim();
    if (!period) return;
    asking = true;
    updateButton();
    $("status").textContent = "正在提交…";
    try {
      const answer = await call("POST", "", { period });
      if (answer.status === 202) {
        const job = answer.data.job;
        watched.add(job.id);
        jobs = [job, ...jobs.filter((j) => j.id !== job.id)];
        $("status").textContent = `正在后台生成 ${jobName(job)}，可以离开本页，稍后回来查看。`;
      } else {
        const message = (answer.data.error && answer.data.error.message) || String(answer.status);
        $("status").textContent = "未能生成：" + message;
      }
    } catch (error) {
      $("status").textContent = "未能生成：网络错误，请重试。";
    } finally {
      asking = false;
      showJobs();
      loadJobs(false);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("generate").hidden = document.body.dataset.mayGenerate !== "1";
    $("generate-form").addEventListener("submit", generate);
    $("period").addEventListener("input", updateButton);
    $("kind").addEventListener("change", show);
    load();
    loadJobs(false);
  });
})();
