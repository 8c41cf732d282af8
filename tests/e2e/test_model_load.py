"""rasa_addons/fast_load.py: the trained model loaded to predict without tracing a training
step answers exactly as Rasa's own load does: every intent ranking, every entity."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.processes import RASA_PYTHON, ROOT, server_env

MESSAGES = [
    "我家停电了",
    "西河村三组从早上开始就没电 电话13800138000",
    "帮我查一下户号0012345678这个月的电费",
    "这个月电费咋这么高",
    "电线杆倒了压在路边 小孩在旁边玩",
    "我要报修",
    "A2611220002到哪一步了",
    "工单T202611220003修好了吗",
    "想给新房子装个电表 要带啥材料",
    "过户要多久",
    "我要投诉，转人工",
    "你们师傅态度很好 表扬一下",
    "建议营业厅周末也开门",
    "阶梯电价怎么算的",
    "five stars, thanks",
    "my power is out since this morning in Xihe village",
    "how much is the electricity price per kwh",
    "can I talk to a person",
    "有人偷电 接了根线到隔壁厂里",
    "家里煤气漏了",
    "喂 你好 我跟你说啊 我们那个 那个电表 嗯 转得特别快",
    "屋头停电咯 咋个回事嘛",
    "好的谢谢",
    "不是",
    "asdfgh",
    "👍",
    "1; DROP TABLE accounts;--",
    "",
]

SCRIPT = """
import asyncio, json, sys
import rasa_addons  # installs the fast load
from rasa.core.agent import Agent
from rasa.utils.tensorflow import models

fast = models.RasaModel.load.__func__
assert getattr(fast, "_fast_load", False), "rasa_addons did not install its load"
messages = json.loads(sys.argv[2])

def answers(agent):
    out = []
    for text in messages:
        parsed = asyncio.run(agent.parse_message(text))
        out.append({
            "intent": parsed["intent"],
            "ranking": parsed.get("intent_ranking", []),
            "entities": sorted(
                (e["entity"], str(e["value"]), e.get("start"), e.get("extractor"))
                for e in parsed.get("entities", [])
            ),
        })
    return out

models.RasaModel.load = classmethod(fast.stock)  # Rasa's own, to compare with
stock = answers(Agent.load(sys.argv[1]))
models.RasaModel.load = classmethod(fast)
print(json.dumps({"stock": stock, "fast": answers(Agent.load(sys.argv[1]))}))
"""


def test_the_fast_load_predicts_exactly_as_rasas_own(rasa_model: Path) -> None:
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", SCRIPT, str(rasa_model), json.dumps(MESSAGES)],
        cwd=ROOT, env=server_env(), capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    stock, fast = result["stock"], result["fast"]
    assert len(stock) == len(fast) == len(MESSAGES)
    for text, ours, theirs in zip(MESSAGES, fast, stock, strict=True):
        assert ours["intent"]["name"] == theirs["intent"]["name"], text
        assert ours["entities"] == theirs["entities"], text
        assert [r["name"] for r in ours["ranking"]] == [r["name"] for r in theirs["ranking"]], text
        for mine, rasas in zip(ours["ranking"], theirs["ranking"], strict=True):
            assert abs(mine["confidence"] - rasas["confidence"]) < 1e-6, text
    # not vacuous: the model tells messages apart and finds entities
    assert len({a["intent"]["name"] for a in stock}) >= 10
    assert sum(bool(a["entities"]) for a in stock) >= 3
