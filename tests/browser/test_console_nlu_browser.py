"""The operators' NLU page in a real headless Chromium (Debian's, driven by Playwright) against
the real gateway on SQLite, its NLU loop on a copy of the project with the fake `rasa`. Every
request the page makes outside the gateway, and every console error (CSP, Trusted Types), fails
the test.

The stories: an operator logs in, opens the NLU page from the overview, sees a misunderstood
message in the inbox with its conversation, marks an entity by selecting text, labels it and
sees it leave the open list (the example is in the copy's data/); then trains a model, follows
its progress, opens it in the registry (guard verdict, per-intent table, confusion matrix) and
deploys it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from aiohttp import web
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.console.nlu_api import NLU_CONSOLE
from nlu.deploy import RasaServer
from nlu.loop import NluLoop
from nlu.settings import NluSettings
from tests.browser.harness import GatewayThread, serving, watched_page
from tests.fakes.console import PASSWORD, cheap_password_hashing, make_staff
from tests.fakes.gateway import settings_for
from tests.fakes.nlu_console import capture, nlu_project
from tests.fakes.rasa import FakeRasa

pytestmark = pytest.mark.slow

METER = "俺家电表咋一直跳字呢"
OTHER = "能不能帮我订个外卖"


@dataclass
class Stack:
    gateway: GatewayThread
    settings: NluSettings
    models: FakeRasa
    errors: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)


@pytest.fixture
def stack(
    tmp_path: Path,
    db_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Stack]:
    cheap_password_hashing(monkeypatch)
    make_staff(session_factory)
    nlu_settings = nlu_project(tmp_path, monkeypatch)
    capture(session_factory, nlu_settings, ["你好", METER, METER + "！"])
    capture(session_factory, nlu_settings, [OTHER], chat="7", reason="flagged", predicted="greet")
    rasa, models = FakeRasa(), FakeRasa.serving_models()

    def make_app() -> web.Application:
        app = create_app(settings_for(rasa, db_url), channels=False)
        app[NLU_CONSOLE].loop = NluLoop(
            nlu_settings, session_factory, rasa=RasaServer(models.url, models.token)
        )
        return app

    with serving(rasa, models):
        gateway = GatewayThread(make_app).start()
        try:
            yield Stack(gateway, nlu_settings, models)
        finally:
            gateway.stop()


@pytest.fixture
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    # a laptop screen
    with watched_page(
        browser, stack.gateway.url, errors=stack.errors, foreign=stack.foreign, viewport=(1366, 768)
    ) as page:
        yield page


def open_as_operator(page: Page, stack: Stack) -> None:
    page.goto(stack.gateway.url + "/console/nlu")
    expect(page).to_have_url(re.compile(r"/console/login$"))
    page.get_by_label("用户名").fill("ops")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(re.compile(r"/console/supervisor$"))
    page.get_by_role("link", name="意图训练").click()
    expect(page).to_have_url(re.compile(r"/console/nlu$"))


def test_an_operator_labels_an_inbox_item_and_it_leaves_the_open_list(
    page: Page, stack: Stack
) -> None:
    open_as_operator(page, stack)
    inbox = page.get_by_role("list", name="待标注样本列表")
    item = inbox.locator(".item-button").filter(has_text=METER)
    expect(item).to_contain_text("×2")
    expect(item).to_contain_text("query_bill 42%")
    expect(item).to_contain_text("置信度低")
    expect(inbox.locator(".item-button").filter(has_text=OTHER)).to_contain_text("坐席标记答错")
    expect(page.locator("#inbox-total")).to_have_text("3")  # 你好 too

    item.click()
    expect(page.get_by_label("例句", exact=True)).to_have_value(METER)
    contexts = page.locator("#contexts")
    # each message of the group with its conversation, the newest first
    expect(contexts.locator(".msg-hit .msg-text")).to_have_text([METER + "！", METER])
    expect(contexts.locator(".msg-bot .msg-text").first).to_have_text("答：你好")

    # an entity: select 跳字 in the example, choose its type
    page.get_by_label("例句", exact=True).evaluate("box => box.setSelectionRange(7, 9)")
    page.get_by_label("实体类型", exact=True).select_option("fault_type")
    page.get_by_role("button", name="标注选中文字为实体").click()
    expect(page.get_by_role("list", name="已标注的实体")).to_contain_text("跳字 → fault_type")
    expect(page.locator("#preview")).to_have_text("俺家电表咋一直[跳字](fault_type)呢")

    page.get_by_label("意图", exact=True).select_option("meter_issue")
    page.get_by_role("button", name="标注", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("已写入")
    expect(inbox.locator(".item-button").filter(has_text=METER)).to_have_count(0)
    expect(inbox.locator(".item-button")).to_have_count(2)
    expect(page.locator("#inbox-total")).to_have_text("2")
    written = "".join(p.read_text(encoding="utf-8") for p in stack.settings.data_dir.rglob("*.yml"))
    assert "- 俺家电表咋一直[跳字](fault_type)呢" in written

    # it is among the labelled ones
    page.get_by_label("按状态").select_option("labelled")
    expect(inbox.locator(".item-button")).to_have_count(1)
    expect(inbox.locator(".item-button")).to_contain_text("已标注：meter_issue")

    # a wrong label is corrected: the example moves to the right intent
    inbox.locator(".item-button").click()
    expect(page.locator("#relabel-hint")).to_be_visible()
    expect(page.get_by_role("button", name="超出范围")).to_be_disabled()
    page.get_by_label("意图", exact=True).select_option("report_fault")
    page.get_by_role("button", name="改标为此意图").click()
    expect(page.get_by_role("alert")).to_contain_text("已写入")
    expect(inbox.locator(".item-button")).to_contain_text("已标注：report_fault")
    blocks: dict[str, str] = {}  # an intent's examples, from every file that has a block of it
    for path in sorted(stack.settings.data_dir.rglob("*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                blocks[block["intent"]] = blocks.get(block["intent"], "") + block["examples"]
    assert f"- {METER}\n" in blocks["report_fault"]
    assert METER not in blocks["meter_issue"]


def test_an_operator_labels_several_items_at_once(page: Page, stack: Stack) -> None:
    open_as_operator(page, stack)
    inbox = page.get_by_role("list", name="待标注样本列表")
    expect(inbox.locator(".item-button")).to_have_count(3)
    batch = page.get_by_role("group", name="批量标注")
    expect(batch).to_be_hidden()
    page.get_by_label("全选本页").check()
    expect(batch.locator("#batch-count")).to_have_text("3")
    page.get_by_label("全选本页").uncheck()
    expect(batch).to_be_hidden()
    ids = {
        text: inbox.locator("li").filter(has_text=text).locator(".pick").get_attribute("data-id")
        for text in (METER, "你好", OTHER)
    }
    page.get_by_label(f"选中样本 #{ids[METER]}（批量标注）").check()
    page.get_by_label(f"选中样本 #{ids['你好']}（批量标注）").check()
    expect(batch.locator("#batch-count")).to_have_text("2")

    # 你好 is an example of greet already: the whole batch is refused, the item named
    batch.get_by_label("标注为").select_option("meter_issue")
    batch.get_by_role("button", name="批量标注").click()
    expect(batch.get_by_role("status")).to_contain_text(f"inbox item {ids['你好']}")
    expect(inbox.locator(".item-button")).to_have_count(3)
    # Chromium logs the refused request (422) as a console error: that one, and only it
    assert [e for e in stack.errors if "422" in e] == stack.errors != []
    stack.errors.clear()

    page.get_by_label(f"选中样本 #{ids['你好']}（批量标注）").uncheck()
    page.get_by_label(f"选中样本 #{ids[OTHER]}（批量标注）").check()
    batch.get_by_role("button", name="批量标注").click()
    expect(page.get_by_role("alert")).to_contain_text("2 条样本已标注为 meter_issue")
    expect(batch).to_be_hidden()
    expect(inbox.locator(".item-button")).to_have_count(1)
    expect(inbox.locator(".item-button")).to_contain_text("你好")
    written = "".join(p.read_text(encoding="utf-8") for p in stack.settings.data_dir.rglob("*.yml"))
    assert f"- {METER}" in written
    assert f"- {OTHER}" in written

    # the rest is noise: ignored in one go ("all on this page": the one left)
    page.get_by_label("全选本页").check()
    expect(batch.locator("#batch-count")).to_have_text("1")
    batch.get_by_role("button", name="批量忽略").click()
    expect(page.get_by_role("alert")).to_contain_text("1 条样本已忽略")
    expect(page.locator("#inbox-total")).to_have_text("0")
    page.get_by_label("按状态").select_option("ignored")
    expect(inbox.locator(".item-button")).to_contain_text("你好")


def test_an_operator_trains_compares_and_deploys_a_model(page: Page, stack: Stack) -> None:
    open_as_operator(page, stack)
    expect(page.locator("#models")).to_contain_text("还没有训练过模型")
    page.get_by_role("button", name="开始训练").click()
    expect(page.locator("#job-result")).to_contain_text("候选模型 #1", timeout=30_000)
    expect(page.get_by_label("训练进度")).to_have_attribute("value", "100")
    expect(page.locator("#job-stage")).to_have_text("完成")  # the loop's stage "done", in Chinese
    expect(page.locator("#job-log")).to_contain_text("Epochs")

    # the finished job opens its model: verdict, per-intent scores, the confusion matrix
    expect(page.locator("#model-title")).to_contain_text("模型 #1（候选）")
    expect(page.locator("#model-title")).to_contain_text("从头训练")  # no live model to continue
    expect(page.locator("#guard")).to_have_text("回归检查通过")
    expect(page.locator("#compare tr").filter(has_text="query_bill")).to_contain_text("0.900")
    matrix = page.get_by_role("img", name=re.compile("混淆矩阵"))
    expect(matrix).to_be_visible()
    assert matrix.evaluate("img => img.complete && img.naturalWidth > 0")

    page.get_by_role("button", name="部署").click()
    expect(page.get_by_role("alert")).to_contain_text("模型 #1 已上线")
    expect(page.locator("#models tr").filter(has_text="#1")).to_contain_text("线上")
    assert len(stack.models.loads) == 1


STAGES = {  # what nlu.loop and nlu.training write as a job's stage → what the page shows
    "queued": "排队中",
    "starting": "正在启动",
    "reading the training data": "读取训练数据",
    "training: loading data": "训练：加载数据",
    "training DIET: epoch 3/25": "训练 DIET：第 3/25 轮",
    "training DIET fold 2/5: epoch 10/40": "训练 DIET（第 2/5 折）：第 10/40 轮",
    "training JiebaTokenizer": "正在训练组件 JiebaTokenizer",
    "trained DIETClassifier": "已训练组件 DIETClassifier",
    "restored RulePolicy": "已从缓存恢复组件 RulePolicy",
    "model saved": "模型已保存",
    "evaluating the candidate on the held-out set": "在留出测试集上评估候选模型",
    "evaluating the live model": "评估线上模型",
    "comparing with the live model": "与线上模型逐个意图对比",
    "cross-validation (5 folds)": "交叉验证（5 折）",
    "registering the running model": "登记正在运行的模型",
    "done": "完成",
    "a stage added later": "a stage added later",  # shown as it is rather than hidden
}


def test_every_job_stage_is_shown_in_chinese(browser: Browser) -> None:
    script = (Path(__file__).parents[2] / "bot/static/console-nlu.js").read_text("utf-8")
    table = script[script.index("  const STAGES = [") : script.index("  const EVENTS = {")]
    page = browser.new_page()
    try:
        shown = page.evaluate(
            f"stages => {{ {table}; return stages.map(stageText); }}", list(STAGES)
        )
    finally:
        page.close()
    assert dict(zip(STAGES, shown, strict=True)) == STAGES
