"""Load DIET for prediction without tracing its training step: 30 s → 10 s per model load.

Rasa 3.6 builds a saved TensorFlow model's weights by training it one step on one example
(`RasaModel.load`: `model.fit(...)`, then `load_weights`). Tracing that step, with the
gradients of DIET's entity CRF, took 25 of the 30 seconds a load of our model took on 2 cores,
and every load pays it: each `rasa run` start and restart (a worker the supervisor restarts, a
deployment's `PUT /model`) and each `rasa test nlu` of an operator's candidate. A model loaded
to predict never trains, so its weights are built by one prediction instead, the weights loaded
into them, and the prediction function traced again: the label embeddings DIET computes once
for prediction, and the traced function that captured them, came from the initial weights.

Fine-tuning (`rasa train --finetune`) loads with `finetune_mode` and keeps Rasa's own path: it
needs the optimizer's state. Installed when Rasa imports any of rasa_addons (config.yml names
our components; a model's graph imports them before it loads DIET); a process without Rasa
(the main environment's tests of rasa_addons) skips it. tests/e2e/test_model_load.py loads the
trained model both ways and compares every intent ranking and entity.
"""

from __future__ import annotations

from typing import Any

from rasa_addons.pinned import pinned_rasa


def install() -> bool:
    """Replace `RasaModel.load` for prediction; False (nothing replaced) without the pinned
    Rasa."""
    if not pinned_rasa():
        return False
    from rasa.utils.tensorflow import models

    current = models.RasaModel.load.__func__
    if getattr(current, "_fast_load", False):
        return True
    stock_load = current

    def load(
        cls: Any,
        model_file_name: str,
        model_data_example: Any,
        predict_data_example: Any = None,
        finetune_mode: bool = False,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        if finetune_mode or not predict_data_example:
            return stock_load(
                cls, model_file_name, model_data_example, predict_data_example, finetune_mode,
                *args, **kwargs,
            )  # fmt: skip
        model = cls(*args, **kwargs)
        model.run_inference(predict_data_example)  # creates every weight prediction uses
        model.load_weights(model_file_name).expect_partial()  # the optimizer's are not needed
        model.prepared_for_prediction = False  # label embeddings from the loaded weights ...
        model._tf_predict_step = None  # ... and a prediction function traced with them
        model.run_inference(predict_data_example)
        return model

    load._fast_load = True  # type: ignore[attr-defined]
    load.stock = stock_load  # type: ignore[attr-defined]
    models.RasaModel.load = classmethod(load)
    return True
