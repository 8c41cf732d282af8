// Operators' NLU page: the inbox of misunderstood messages, annotation (intent, entities, out of
// scope, ignore, new intent), training with live progress, the model registry (compare, deploy,
// roll back). Talks to /api/v1/nlu/ (docs/operators.md). DOM only, never innerHTML.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const API = "/api/v1/nlu";
  const CSRF = document.querySelector('meta[name="csrf-token"]').content;
  const PAGE = 30;
  const REASONS = {
    low_confidence: "置信度低",
    fallback: "未听懂",
    handoff: "转人工前",
    flagged: "坐席标记答错",
  };
  const ITEM_STATUS = {
    open: "待处理",
    labelled: "已标注",
    new_intent: "新建意图",
    out_of_scope: "超出范围",
    ignored: "已忽略",
  };
  const TRAINED_AS = { finetuned: "在线上模型基础上增量训练", full: "从头训练" };
  const MODEL_STATUS = {
    training: "训练中",
    candidate: "候选",
    refused: "被拒绝",
    live: "线上",
    retired: "已下线",
    failed: "失败",
  };
  const JOB_STATUS = {
    queued: "排队中",
    running: "进行中",
    succeeded: "已完成",
    failed: "失败",
    cancelled: "已取消",
  };
  // The job's stage as nlu.loop / nlu.training write it (English, in the database and the CLI),
  // shown in Chinese; a stage not listed here is shown as it is.
  const STAGES = [
    [/^queued$/, () => "排队中"],
    [/^starting$/, () => "正在启动"],
    [/^reading the training data$/, () => "读取训练数据"],
    [/^training: loading data$/, () => "训练：加载数据"],
    [/^training DIET(?: fold (\d+)\/(\d+))?: epoch (\d+)\/(\d+)$/, (m) =>
      "训练 DIET" + (m[1] ? "（第 " + m[1] + "/" + m[2] + " 折）" : "") + "：第 " + m[3] + "/" + m[4] + " 轮"],
    [/^training (\S+)$/, (m) => "正在训练组件 " + m[1]],
    [/^trained (\S+)$/, (m) => "已训练组件 " + m[1]],
    [/^restored (\S+)$/, (m) => "已从缓存恢复组件 " + m[1]],
    [/^model saved$/, () => "模型已保存"],
    [/^evaluating the candidate on the held-out set$/, () => "在留出测试集上评估候选模型"],
    [/^evaluating the live model$/, () => "评估线上模型"],
    [/^comparing with the live model$/, () => "与线上模型逐个意图对比"],
    [/^cross-validation \((\d+) folds\)$/, (m) => "交叉验证（" + m[1] + " 折）"],
    [/^registering the running model$/, () => "登记正在运行的模型"],
    [/^done$/, () => "完成"],
  ];

  function stageText(stage) {
    for (const [pattern, text] of STAGES) {
      const match = pattern.exec(stage || "");
      if (match) return text(match);
    }
    return stage || "";
  }

  const EVENTS = {
    train: "开始训练",
    candidate: "回归检查通过",
    refuse: "回归检查未通过",
    override: "强制部署",
    deploy: "部署",
    rollback: "回滚",
    retire: "下线",
    fail: "失败",
    delete: "删除模型文件",
    note: "备注",
  };
  const SENDERS = { customer: "客户", bot: "机器人", agent: "坐席", system: "系统" };

  const inbox = { offset: 0, total: 0, selected: new Set() };
  let current = null; // {id, text, entities: [{entity, start, end, value}]}
  let currentModel = null;
  let pollTimer = null;

  // --- helpers ---------------------------------------------------------------------------

  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function percent(value) {
    return typeof value === "number" ? Math.round(value * 100) + "%" : "—";
  }

  function number(value) {
    return typeof value === "number" ? value.toFixed(3) : "—";
  }

  function signed(value) {
    if (typeof value !== "number") return "—";
    return (value > 0 ? "+" : "") + value.toFixed(3);
  }

  function when(iso) {
    return iso ? new Date(iso).toLocaleString("zh-CN", { hour12: false }) : "—";
  }

  function notice(text) {
    $("notice").textContent = text || "";
    $("notice").hidden = !text;
  }

  // once the logout is submitted nothing runs in the background: a request racing the logout
  // would be answered 401 while the page leaves
  let leaving = false;
  document.querySelector("form.logout")?.addEventListener("submit", () => { leaving = true; });

  // background: a request nobody clicked for (polling); it does not keep the session alive
  async function api(method, path, body, background) {
    if (background && leaving) return { status: 401, data: {} };
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (background) init.headers["X-Console-Background"] = "1";
    if (method !== "GET") {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = CSRF;
      init.body = JSON.stringify(body || {});
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (err) {
      return { status: 0, data: { error: { code: "network", message: "网络错误，请稍后重试" } } };
    }
    if (response.status === 401) {
      window.location.assign("/console/login");
      return { status: 401, data: {} };
    }
    const data = await response.json().catch(() => ({}));
    return { status: response.status, data };
  }

  // GET: the data, or null after showing the error
  async function load(path) {
    const { status, data } = await api("GET", path);
    if (status === 200) return data;
    if (status !== 401) notice(errorText(data));
    return null;
  }

  function errorText(data) {
    const error = (data && data.error) || {};
    const prefix = {
      validation_failed: "Rasa 校验未通过，训练数据未改动：",
      invalid: "无法保存：",
      conflict: "操作冲突：",
      guard_refused: "回归检查未通过：",
      unavailable: "服务不可用：",
      not_found: "未找到：",
    }[error.code] || "出错了：";
    return prefix + (error.message || "未知错误");
  }

  // Offsets: the API counts Unicode code points, JavaScript strings UTF-16 units.
  function codePoints(text, units) {
    return Array.from(text.slice(0, units)).length;
  }

  function slice(text, start, end) {
    return Array.from(text).slice(start, end).join("");
  }

  // --- the inbox -------------------------------------------------------------------------

  function filters() {
    const params = new URLSearchParams({
      status: $("filter-status").value,
      limit: String(PAGE),
      offset: String(inbox.offset),
    });
    if ($("filter-reason").value) params.set("reason", $("filter-reason").value);
    if ($("filter-intent").value.trim()) params.set("intent", $("filter-intent").value.trim());
    return params;
  }

  function inboxEntry(item) {
    const meta = [
      (item.predicted_intent || "（无意图）") + " " + percent(item.confidence),
      item.reasons.map((r) => REASONS[r] || r).join("、"),
    ];
    if (item.status !== "open") {
      meta.push(ITEM_STATUS[item.status] + (item.label_intent ? "：" + item.label_intent : ""));
    }
    const button = el(
      "button",
      {
        type: "button",
        class: "item-button",
        dataset: { id: String(item.id) },
        "aria-current": current && current.id === item.id ? "true" : "false",
        onclick: () => openItem(item.id),
      },
      el("span", { class: "item-title" }, el("span", { class: "count", title: "出现次数" }, "×" + item.count), " ", item.text),
      el("span", { class: "item-meta" }, meta.join(" · ")),
    );
    const editable = item.status === "open" || item.status === "ignored";
    const pick = editable
      ? el("input", {
          type: "checkbox",
          class: "pick",
          "aria-label": "选中样本 #" + item.id + "（批量标注）",
          checked: inbox.selected.has(item.id),
          dataset: { id: String(item.id) },
          onchange: (event) => {
            if (event.target.checked) inbox.selected.add(item.id);
            else inbox.selected.delete(item.id);
            renderBatch();
          },
        })
      : null;
    return el("li", { class: pick ? "pickable" : null }, pick, button);
  }

  // --- several items, one intent ---------------------------------------------------------

  function renderBatch() {
    const count = inbox.selected.size;
    $("batch").hidden = count === 0;
    $("batch-count").textContent = String(count);
    const picks = Array.from(document.querySelectorAll("#inbox .pick"));
    $("pick-all-row").hidden = picks.length === 0;
    $("pick-all").checked = picks.length > 0 && picks.every((box) => box.checked);
  }

  function pickAll(event) {
    for (const box of document.querySelectorAll("#inbox .pick")) {
      box.checked = event.target.checked;
      const id = Number(box.dataset.id);
      if (box.checked) inbox.selected.add(id);
      else inbox.selected.delete(id);
    }
    renderBatch();
  }

  // POST the ticked items (with `extra`) to `path`; on success `done(data, count)` is the notice
  async function batch(button, path, extra, busyText, done) {
    const items = Array.from(inbox.selected);
    $(button).disabled = true;
    $("batch-status").textContent = busyText;
    const { status, data } = await api("POST", path, { items, ...extra });
    $(button).disabled = false;
    if (status !== 200) {
      $("batch-status").textContent = errorText(data);
      return;
    }
    $("batch-status").textContent = "";
    notice(done(data, items.length));
    inbox.selected.clear();
    renderBatch();
    if (current && items.includes(current.id)) closeItem();
    await loadInbox();
  }

  function ignoreBatch() {
    return batch("batch-ignore", "/inbox/ignore", {}, "正在保存…", (_data, count) => count + " 条样本已忽略（不写入训练数据）。");
  }

  function labelBatch() {
    const intent = $("batch-intent").value;
    if (!intent) {
      $("batch-status").textContent = "请先选择意图。";
      $("batch-intent").focus();
      return;
    }
    return batch("batch-label", "/inbox/label", { intent }, CHECKING, (data, count) =>
      count + " 条样本已标注为 " + intent + "：已写入 " + data.edit.files.join("、") + "。重新训练后生效。",
    );
  }

  async function loadInbox() {
    const data = await load("/inbox?" + filters().toString());
    if (!data) return;
    inbox.total = data.total;
    $("inbox-total").textContent = String(data.total);
    // a selection is of items on the page shown, still open to labelling
    const shown = new Set(data.items.filter((i) => i.status === "open" || i.status === "ignored").map((i) => i.id));
    for (const id of Array.from(inbox.selected)) if (!shown.has(id)) inbox.selected.delete(id);
    $("inbox").replaceChildren(
      ...(data.items.length ? data.items.map(inboxEntry) : [el("li", { class: "muted" }, "没有符合条件的样本")]),
    );
    renderBatch();
    const page = Math.floor(inbox.offset / PAGE) + 1;
    const pages = Math.max(1, Math.ceil(data.total / PAGE));
    $("page-info").textContent = "第 " + page + " / " + pages + " 页";
    $("prev-page").disabled = inbox.offset === 0;
    $("next-page").disabled = inbox.offset + PAGE >= data.total;
  }

  // --- one item --------------------------------------------------------------------------

  function field(name, value) {
    return [el("dt", {}, name), el("dd", {}, value)];
  }

  function contextBlock(hit) {
    const messages = hit.messages.map((m) =>
      el(
        "li",
        { class: "msg msg-" + m.sender + (m.is_hit ? " msg-hit" : "") },
        el(
          "div",
          { class: "msg-head" },
          el("span", { class: "msg-sender" }, SENDERS[m.sender] || m.sender),
          el("span", {}, when(m.at)),
          m.intent ? el("span", { class: "msg-intent" }, m.intent + " " + percent(m.confidence)) : null,
          m.is_hit ? el("strong", {}, "← 本条样本") : null,
        ),
        el("div", { class: "msg-text" }, m.text),
      ),
    );
    return el(
      "section",
      { class: "context" },
      el(
        "p",
        { class: "muted" },
        (hit.conversation_label || "（会话已删除）") + " · " + (REASONS[hit.reason] || hit.reason) + " · " + when(hit.at),
      ),
      messages.length ? el("ol", { class: "transcript" }, ...messages) : el("p", { class: "muted" }, "没有保存的对话"),
    );
  }

  function renderEntities() {
    $("entities").replaceChildren(
      ...current.entities.map((e, index) =>
        el(
          "li",
          {},
          el("span", { class: "entity" }, e.value), " → ", el("code", {}, e.entity), " ",
          el("button", {
            type: "button",
            class: "link-button",
            "aria-label": "删除实体 " + e.value + "（" + e.entity + "）",
            onclick: () => {
              current.entities.splice(index, 1);
              renderEntities();
            },
          }, "删除"),
        ),
      ),
    );
    let line = "";
    let position = 0;
    for (const e of current.entities) {
      line += slice(current.text, position, e.start) + "[" + e.value + "](" + e.entity + ")";
      position = e.end;
    }
    $("preview").textContent = line + slice(current.text, position);
  }

  function addEntity() {
    const box = $("example");
    const text = current.text;
    let start = codePoints(text, box.selectionStart);
    let end = codePoints(text, box.selectionEnd);
    const chars = Array.from(text);
    while (start < end && /\s/.test(chars[start])) start += 1;
    while (end > start && /\s/.test(chars[end - 1])) end -= 1;
    if (start >= end) {
      $("item-status").textContent = "请先在例句中选中要标注的文字。";
      return;
    }
    if (current.entities.some((e) => start < e.end && e.start < end)) {
      $("item-status").textContent = "选中的文字与已标注的实体重叠。";
      return;
    }
    const entity = $("entity-type").value;
    current.entities.push({ entity, start, end, value: chars.slice(start, end).join("") });
    current.entities.sort((a, b) => a.start - b.start);
    $("item-status").textContent = "已添加实体 " + entity + "。";
    renderEntities();
  }

  async function openItem(id) {
    const data = await load("/inbox/" + id);
    if (!data) return;
    const item = data.item;
    current = { id: item.id, text: item.text, status: item.status, entities: [] };
    for (const button of document.querySelectorAll("#inbox .item-button")) {
      button.setAttribute("aria-current", button.dataset.id === String(item.id) ? "true" : "false");
    }
    $("item-title").textContent = "样本 #" + item.id;
    $("item-fields").replaceChildren(
      ...field("出现次数", String(item.count)),
      ...field("预测意图", (item.predicted_intent || "（无）") + "，置信度 " + percent(item.confidence)),
      ...field("进入原因", item.reasons.map((r) => REASONS[r] || r).join("、")),
      ...field("状态", ITEM_STATUS[item.status] + (item.label_intent ? "：" + item.label_intent : "")),
      ...(item.note ? field("坐席备注", item.note) : []),
    );
    $("example").value = item.text;
    $("intent").value = ""; // a conscious choice: the prediction is often what went wrong
    $("item-status").textContent = "";
    const editable = item.status === "open" || item.status === "ignored";
    // a labelled (or out-of-scope) item can be corrected: its example moves to another intent
    const correctable = item.status === "labelled" || item.status === "out_of_scope";
    for (const id of ["do-oos", "do-ignore", "do-new-intent"]) $(id).disabled = !editable;
    for (const id of ["do-label", "add-entity"]) $(id).disabled = !(editable || correctable);
    $("do-ignore").disabled = item.status !== "open";
    $("do-label").textContent = correctable ? "改标为此意图" : "标注";
    $("relabel-hint").hidden = !correctable;
    renderEntities();
    $("contexts").replaceChildren(
      ...(item.hits.length ? item.hits.map(contextBlock) : [el("p", { class: "muted" }, "没有对话记录")]),
    );
    $("item").hidden = false;
  }

  function closeItem() {
    current = null;
    $("item").hidden = true;
    $("item-title").textContent = "请选择一条样本";
  }

  async function annotate(path, body, busyText) {
    if (!current) return;
    const buttons = ["do-label", "do-oos", "do-ignore", "do-new-intent"].map($);
    const was = buttons.map((b) => b.disabled);
    buttons.forEach((b) => (b.disabled = true));
    $("item-status").textContent = busyText;
    const { status, data } = await api("POST", "/inbox/" + current.id + path, body);
    buttons.forEach((b, i) => (b.disabled = was[i]));
    if (status !== 200) {
      $("item-status").textContent = errorText(data);
      return false;
    }
    const edit = data.edit;
    notice(
      "样本 #" + current.id + " 已处理" +
        (edit ? "：已写入 " + edit.files.join("、") + "（" + edit.line + "）。重新训练后生效。" : "。"),
    );
    closeItem();
    await loadInbox();
    return true;
  }

  const CHECKING = "正在写入训练数据并用 Rasa 校验（约 10–30 秒）…";

  function label() {
    const intent = $("intent").value;
    if (!intent) {
      $("item-status").textContent = "请先选择意图。";
      $("intent").focus();
      return;
    }
    const entities = current.entities.map(({ entity, start, end, value }) => ({ entity, start, end, value }));
    const correcting = current.status === "labelled" || current.status === "out_of_scope";
    annotate(correcting ? "/relabel" : "/label", { intent, entities }, CHECKING);
  }

  async function newIntent(event) {
    event.preventDefault();
    const body = {
      name: $("new-name").value.trim(),
      response_zh: $("new-response-zh").value.trim(),
      entities: current.entities.map(({ entity, start, end, value }) => ({ entity, start, end, value })),
    };
    if ($("new-response-en").value.trim()) body.response_en = $("new-response-en").value.trim();
    if (await annotate("/new-intent", body, CHECKING)) {
      $("new-intent-form").reset();
      $("new-intent-box").open = false;
      await loadIntents();
    }
  }

  async function loadIntents() {
    const data = await load("/intents");
    if (!data) return;
    const chosen = $("intent").value;
    $("intent").replaceChildren(
      el("option", { value: "" }, "请选择意图…"),
      ...data.intents
        .filter((i) => i.name !== "out_of_scope")
        .map((i) => el("option", { value: i.name }, i.name + "（" + i.examples + " 条例句）")),
    );
    $("intent").value = chosen;
    const batchChosen = $("batch-intent").value;
    $("batch-intent").replaceChildren(...Array.from($("intent").options, (o) => o.cloneNode(true)));
    $("batch-intent").value = batchChosen;
    $("intent-names").replaceChildren(...data.intents.map((i) => el("option", { value: i.name })));
    $("entity-type").replaceChildren(...data.entities.map((e) => el("option", { value: e }, e)));
  }

  // --- training --------------------------------------------------------------------------

  function showJob(job, extra) {
    $("job").hidden = false;
    $("job-title").dataset.jobId = String(job.id);
    $("job-title").textContent = (job.kind === "cross_validation" ? "交叉验证" : "训练") + " #" + job.id + "（" + (JOB_STATUS[job.status] || job.status) + "）";
    $("job-stage").textContent = stageText(job.stage);
    $("job-stage").title = job.stage || "";
    $("job-percent").textContent = job.progress + "%";
    $("job-progress").value = job.progress;
    $("job-log").textContent = job.log_tail || "";
    $("job-log").scrollTop = $("job-log").scrollHeight;
    $("cancel-training").hidden = !job.active;
    $("start-training").disabled = job.active;
    let result = "";
    if (job.status === "failed") result = "失败：" + (job.error || "");
    else if (job.status === "cancelled") result = "已取消。";
    else if (job.status === "succeeded" && job.model_id) result = "已完成：候选模型 #" + job.model_id + "，请在下方模型库查看评估结果。";
    else if (job.status === "succeeded" && extra && extra.cross_validation) {
      result = "交叉验证完成：宏 F1 " + number(extra.cross_validation.macro_f1) + "（" + extra.cross_validation.folds + " 折）。";
    }
    $("job-result").textContent = result;
  }

  function follow(jobId) {
    clearTimeout(pollTimer);
    const tick = async () => {
      const { status, data } = await api("GET", "/jobs/" + jobId, undefined, true);
      if (status !== 200) return;
      showJob(data.job, data);
      if (data.job.active) {
        pollTimer = setTimeout(tick, 1000);
      } else {
        await loadModels();
        if (data.job.model_id) await openModel(data.job.model_id);
      }
    };
    tick();
  }

  async function startTraining(event) {
    event.preventDefault();
    $("start-training").disabled = true;
    const { status, data } = await api("POST", "/train", { cross_validation: $("cross-validation").checked });
    if (status === 202) {
      showJob(data.job);
      follow(data.job.id);
      return;
    }
    $("start-training").disabled = false;
    notice(errorText(data));
    if (status === 409) await loadJobs();
  }

  async function cancelTraining() {
    const jobId = $("job-title").dataset.jobId;
    if (!jobId) return;
    const { status, data } = await api("POST", "/jobs/" + jobId + "/cancel");
    if (status !== 200) notice(errorText(data));
  }

  async function loadJobs() {
    const { status, data } = await api("GET", "/jobs");
    if (status !== 200 || !data.jobs.length) return;
    const job = data.jobs.find((j) => j.id === data.active_job_id) || data.jobs[0];
    follow(job.id);
  }

  // --- models ----------------------------------------------------------------------------

  function modelRow(model) {
    const guard = model.guard_passed === true ? "通过" : model.guard_passed === false ? "未通过" : "—";
    return el(
      "tr",
      { class: "model-" + model.status, "aria-current": currentModel === model.id ? "true" : "false" },
      el("td", {}, el("button", { type: "button", class: "link-button", "aria-label": "查看模型 #" + model.id, onclick: () => openModel(model.id) }, "#" + model.id)),
      el("td", {}, MODEL_STATUS[model.status] || model.status),
      el("td", {}, model.created_by),
      el("td", {}, when(model.created_at)),
      el("td", {}, el("code", { title: model.data_hash }, model.data_hash_short)),
      el("td", {}, number(model.macro_f1)),
      el("td", {}, guard),
    );
  }

  async function loadModels() {
    const data = await load("/models");
    if (!data) return;
    $("models").replaceChildren(
      ...(data.models.length ? data.models.map(modelRow) : [el("tr", {}, el("td", { colspan: "7", class: "muted" }, "还没有训练过模型"))]),
    );
  }

  function compareRow(row, guard) {
    const cells = [el("th", { scope: "row" }, row.intent), el("td", {}, String(row.support))];
    const recallDrop = typeof row.recall.delta === "number" && row.recall.delta < -guard.max_recall_drop - 1e-9;
    for (const name of ["precision", "recall", "f1"]) {
      cells.push(el("td", {}, number(row[name].before)), el("td", {}, number(row[name].after)));
      if (name !== "precision") {
        const delta = row[name].delta;
        const cls = typeof delta === "number" && delta < 0 ? (name === "recall" && recallDrop ? "drop drop-bad" : "drop") : delta > 0 ? "gain" : "";
        cells.push(el("td", { class: cls }, signed(delta)));
      }
    }
    return el("tr", { class: recallDrop ? "row-bad" : "" }, ...cells);
  }

  function metricsRows(metrics) {
    const perIntent = (metrics && metrics.per_intent) || {};
    return Object.keys(perIntent).sort().map((intent) => {
      const m = perIntent[intent];
      const pair = (key) => ({ before: null, after: m[key], delta: null });
      return { intent, support: m.support, precision: pair("precision"), recall: pair("recall"), f1: pair("f1") };
    });
  }

  async function openModel(id) {
    const data = await load("/models/" + id);
    if (!data) return;
    const model = data.model;
    currentModel = model.id;
    for (const row of document.querySelectorAll("#models tr")) row.setAttribute("aria-current", "false");
    $("model-title").textContent =
      "模型 #" + model.id + "（" + (MODEL_STATUS[model.status] || model.status) + "）· " + model.file_name +
      " · 宏 F1 " + number(model.macro_f1) + " · " + model.created_by + " " + when(model.created_at) +
      (TRAINED_AS[model.trained_as] ? " · " + TRAINED_AS[model.trained_as] : "");
    const guard = model.guard;
    const verdict =
      guard.passed === true ? "回归检查通过" : guard.passed === false ? "回归检查未通过" : "尚未评估";
    $("guard").replaceChildren(
      ...[
        el("p", { class: guard.passed === false ? "guard-bad" : "guard-ok" }, verdict),
        guard.reasons.length ? el("ul", {}, ...guard.reasons.map((r) => el("li", {}, r))) : null,
        model.override_reason ? el("p", {}, "强制部署理由（" + model.override_by + "）：" + model.override_reason) : null,
      ].filter(Boolean),
    );
    const comparison = model.comparison;
    const rows = comparison && comparison.rows ? comparison.rows : metricsRows(model.metrics);
    const fall = (row) => (typeof row.recall.delta === "number" ? row.recall.delta : 0);
    rows.sort((a, b) => fall(a) - fall(b) || a.intent.localeCompare(b.intent)); // drops first
    $("compare").replaceChildren(...rows.map((r) => compareRow(r, guard)));
    let caption = "";
    if (comparison && model.compared_with) {
      const macro = comparison.macro_f1 || {};
      caption = "与" + (model.comparison_source === "live" ? "当前线上" : "训练时线上") + "模型 #" + model.compared_with +
        " 对比：宏 F1 " + number(macro.before) + " → " + number(macro.after) + "（" + signed(macro.delta) + "）";
    } else if (!model.metrics) {
      caption = "（没有评估结果）";
    } else {
      caption = "（没有可对比的线上模型）";
    }
    $("compare-caption").textContent = caption;
    if (model.confusion_matrix) {
      $("matrix").src = model.confusion_matrix;
      $("matrix-figure").hidden = false;
    } else {
      $("matrix").removeAttribute("src");
      $("matrix-figure").hidden = true;
    }
    $("events").replaceChildren(
      ...model.events.map((e) =>
        el("li", {}, when(e.at) + " " + e.actor + "：" + (EVENTS[e.action] || e.action) + (e.reason ? "（" + e.reason + "）" : "")),
      ),
    );
    $("deploy-box").hidden = !model.can_deploy;
    $("override-reason").hidden = !model.needs_override;
    $("override-label").hidden = !model.needs_override;
    $("override-reason").setAttribute("minlength", String(model.min_reason_chars));
    $("rollback-box").hidden = !model.can_rollback || model.can_deploy;
    $("model-status").textContent = "";
    $("model").hidden = false;
    await loadModels();
  }

  async function deploy() {
    const body = {};
    if (!$("override-reason").hidden && $("override-reason").value.trim()) {
      body.override_reason = $("override-reason").value.trim();
    }
    $("deploy").disabled = true;
    $("model-status").textContent = "正在把模型加载到运行中的 Rasa（不停机）…";
    const { status, data } = await api("POST", "/models/" + currentModel + "/deploy", body);
    $("deploy").disabled = false;
    if (status === 409 && data.error && data.error.code === "guard_refused") {
      $("override-reason").hidden = false;
      $("override-label").hidden = false;
      $("model-status").textContent =
        errorText(data) + " 原因：" + (data.error.reasons || []).join("；");
      $("override-reason").focus();
      return;
    }
    if (status !== 200) {
      $("model-status").textContent = errorText(data);
      return;
    }
    notice("模型 #" + currentModel + " 已上线。");
    $("override-reason").value = "";
    await openModel(currentModel);
  }

  async function rollback() {
    const reason = $("rollback-reason").value.trim();
    if (!reason) {
      $("model-status").textContent = "请写明回滚理由。";
      $("rollback-reason").focus();
      return;
    }
    $("rollback").disabled = true;
    $("model-status").textContent = "正在回滚…";
    const { status, data } = await api("POST", "/models/" + currentModel + "/rollback", { reason });
    $("rollback").disabled = false;
    if (status !== 200) {
      $("model-status").textContent = errorText(data);
      return;
    }
    notice("已回滚到模型 #" + currentModel + "。");
    $("rollback-reason").value = "";
    await openModel(currentModel);
  }

  // --- wiring ----------------------------------------------------------------------------

  $("inbox-filter").addEventListener("submit", (event) => {
    event.preventDefault();
    inbox.offset = 0;
    loadInbox();
  });
  $("filter-status").addEventListener("change", () => {
    inbox.offset = 0;
    loadInbox();
  });
  $("prev-page").addEventListener("click", () => {
    inbox.offset = Math.max(0, inbox.offset - PAGE);
    loadInbox();
  });
  $("next-page").addEventListener("click", () => {
    inbox.offset += PAGE;
    loadInbox();
  });
  $("add-entity").addEventListener("click", addEntity);
  $("do-label").addEventListener("click", label);
  $("batch-label").addEventListener("click", labelBatch);
  $("batch-ignore").addEventListener("click", ignoreBatch);
  $("pick-all").addEventListener("change", pickAll);
  $("batch-clear").addEventListener("click", () => {
    inbox.selected.clear();
    renderBatch();
    loadInbox();
  });
  $("do-oos").addEventListener("click", () => annotate("/out-of-scope", {}, CHECKING));
  $("do-ignore").addEventListener("click", () => annotate("/ignore", {}, "正在保存…"));
  $("new-intent-form").addEventListener("submit", newIntent);
  $("train-form").addEventListener("submit", startTraining);
  $("cancel-training").addEventListener("click", cancelTraining);
  $("deploy").addEventListener("click", deploy);
  $("rollback").addEventListener("click", rollback);

  loadIntents().then(loadInbox);
  loadJobs();
  loadModels();
})();
