"""Jieba tokenizer that reads the normalised text (rasa_addons/normalise.py).

Tokens keep their positions in the customer's text (the normalisation keeps the length), so
entity annotations and extraction work as with Rasa's own JiebaTokenizer; only what the
featurizers see changes: 停電 and 停电, ３月 and 3月, 听电 and 停电 are the same token.
The typo table is in config.yml (so changing it retrains the model).

Loading a model's user dictionary (nlu/dict) starts from Jieba's dictionary as a new process has
it. Jieba has one tokenizer for the whole process and Rasa's JiebaTokenizer only adds words to
it, each word counting again into the total its probabilities divide by: a Rasa that loaded a
model N times (`PUT /model` at every deployment) split some texts otherwise than a new process
does, drifting with each deployment, and kept the words of dictionaries no longer in use.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message

from rasa_addons.normalise import Normaliser


def _to_simplified() -> Any:
    import opencc  # in Rasa's environment (requirements/rasa.in)

    converter = opencc.OpenCC("t2s")
    return converter.convert


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True)
class NormalisingJiebaTokenizer(JiebaTokenizer):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {**JiebaTokenizer.get_default_config(), "typos": {}}

    def __init__(self, config: dict[str, Any], *args: Any) -> None:
        super().__init__(config, *args)
        self._normalise = Normaliser(dict(config.get("typos") or {}), _to_simplified())

    @staticmethod
    def _load_custom_dictionary(path: str) -> None:
        """The user dictionaries under `path` added to a Jieba as a new process has it."""
        import jieba

        jieba.dt.__init__(jieba.dt.dictionary)  # the tokenizer Jieba's functions are bound to
        JiebaTokenizer._load_custom_dictionary(path)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        import jieba

        text = message.get(attribute)
        normal = self._normalise(text)
        tokens = [Token(word, start) for (word, start, _end) in jieba.tokenize(normal)]
        return list(self._apply_token_pattern(tokens))
