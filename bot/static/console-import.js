// Managers' data import: sends the chosen file to POST /api/v1/imports (the CSRF token in the
// X-CSRF-Token header: the upload is streamed, never parsed as a form) and shows the report:
// the counts, and every rejected row with its line and reasons. Texts only via textContent
// (the page's Content-Security-Policy allows no HTML from script).
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const KINDS = { areas: "供电区域", accounts: "用户档案", meters: "电能表", bills: "电费账单" };
  const OUTCOMES = {
    applied: "已导入",
    dry_run: "试运行完成（未写入任何数据）",
    refused: "未导入（没有写入任何数据）",
  };

  function cell(text) {
    const td = document.createElement("td");
    td.textContent = String(text);
    return td;
  }

  function showRejections(rejections) {
    const body = $("rejections");
    body.replaceChildren();
    for (const r of rejections) {
      const tr = document.createElement("tr");
      tr.append(cell(r.line), cell(r.key || "-"), cell(r.reasons.join("；")));
      body.append(tr);
    }
    $("rejections-table").hidden = rejections.length === 0;
  }

  function showReport(report) {
    $("report").hidden = false;
    $("report-title").textContent = OUTCOMES[report.outcome] || report.outcome;
    $("report-file").textContent =
      `${report.file_name} · ${KINDS[report.kind] || report.kind}` +
      (report.encoding ? ` · ${report.encoding}` : "");
    $("file-error").hidden = !report.file_error;
    $("file-error").textContent = report.file_error ? "文件无法导入：" + report.file_error : "";
    for (const name of ["rows", "created", "updated", "unchanged", "rejected"]) {
      $("count-" + name).textContent = String(report[name]);
    }
    const ignored = report.ignored_columns || [];
    $("ignored").hidden = ignored.length === 0;
    $("ignored").textContent = "未识别的列（已忽略）：" + ignored.join("、");
    showRejections(report.rejections || []);
  }

  async function submit(event) {
    event.preventDefault();
    const file = $("file").files[0];
    if (!file) {
      $("status").textContent = "请先选择文件。";
      return;
    }
    const form = new FormData();
    form.append("kind", $("kind").value);
    form.append("dry_run", $("dry-run").checked ? "1" : "0");
    form.append("file", file, file.name);
    $("submit").disabled = true;
    $("status").textContent = "正在检查，请稍候…";
    try {
      const response = await fetch("/api/v1/imports", {
        method: "POST",
        credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf, Accept: "application/json" },
        body: form,
      });
      if (response.status === 401) {
        window.location.assign("/console/login");
        return;
      }
      const data = await response.json();
      if (!response.ok) {
        $("status").textContent = "导入失败：" + ((data.error && data.error.message) || response.status);
        return;
      }
      $("status").textContent = "";
      showReport(data);
    } catch (error) {
      $("status").textContent = "网络错误，请稍后重试。";
    } finally {
      $("submit").disabled = false;
    }
  }

  $("import-form").addEventListener("submit", submit);
})();
