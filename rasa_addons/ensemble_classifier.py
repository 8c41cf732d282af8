"""An intent classifier that averages DIET's ranking with a logistic regression's
(rasa_addons/ensemble.py). It comes after DIETClassifier in config.yml: DIET still extracts
entities and ranks intents; this component trains a logistic regression on the same sparse
features and replaces the intent and ranking with the average."""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.utils.tensorflow.constants import RANKING_LENGTH

from rasa_addons.ensemble import combine


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True)
class AveragingIntentClassifier(LogisticRegressionClassifier):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            **LogisticRegressionClassifier.get_default_config(),
            "diet_weight": 0.5,
            "expose_parts": False,
        }

    def process(self, messages: list[Message]) -> list[Message]:
        """Each message with text features gets the averaged ranking; the others (an empty
        text has none) and all of them when the regression was never trained keep DIET's."""
        featured = [m for m in messages if m.get_sparse_features(attribute=TEXT)[1] is not None]
        if not featured or not hasattr(self.clf, "classes_"):
            return messages
        probabilities = self.clf.predict_proba(self._create_X(featured))
        classes = [str(name) for name in self.clf.classes_]
        for message, row in zip(featured, probabilities, strict=True):
            self._average(message, dict(zip(classes, map(float, row), strict=True)))
        return messages

    def _average(self, message: Message, probabilities: dict[str, float]) -> None:
        diet = list(message.get(INTENT_RANKING_KEY) or [])
        ranking = combine(diet, probabilities, float(self.config["diet_weight"]))
        if self.config["expose_parts"]:  # for measuring weights and thresholds offline
            message.set("diet_ranking", diet, add_to_output=True)
            message.set("lr_probabilities", probabilities, add_to_output=True)
        length = int(self.config[RANKING_LENGTH])
        message.set(INTENT, ranking[0], add_to_output=True)
        message.set(
            INTENT_RANKING_KEY, ranking[:length] if length > 0 else ranking, add_to_output=True
        )

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
