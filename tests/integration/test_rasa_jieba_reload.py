"""rasa_addons/normalising_tokenizer.py, in Rasa's environment: loading the tokenizer's user
dictionary again (a model loaded again by a running Rasa, `PUT /model`) leaves Jieba exactly as
one load in a new process does: the same total its probabilities divide by and the same tokens;
Rasa's own JiebaTokenizer, compared alongside, drifts with every load."""

from __future__ import annotations

from tests.processes import rasa_script

SCRIPT = """
import json, sys
import jieba
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa_addons.normalising_tokenizer import NormalisingJiebaTokenizer

TEXTS = ["增容怎么办理要多少钱", "我家户号是多少", "西河村停电了什么时候来电", "电费咋这么高"]

def state(load, times):
    jieba.dt.__init__(jieba.dt.dictionary)  # as a new process
    for _ in range(times):
        load("nlu/dict")
    return {"total": jieba.dt.total, "tokens": [jieba.lcut(t) for t in TEXTS]}

ours = NormalisingJiebaTokenizer._load_custom_dictionary
rasas = JiebaTokenizer._load_custom_dictionary
print(json.dumps({"ours": [state(ours, 1), state(ours, 5)],
                  "rasas": [state(rasas, 1), state(rasas, 5)]}, ensure_ascii=False))
"""


def test_a_model_loaded_again_tokenizes_as_a_new_process() -> None:
    found = rasa_script(SCRIPT)
    once, five_times = found["ours"]
    assert five_times == once
    assert once == found["rasas"][0]  # one load: the same as Rasa's own
    # what it fixes: Rasa's own adds the words' counts again with every load
    assert found["rasas"][1]["total"] > found["rasas"][0]["total"]
