"""Check the action server's replies against Rasa's schema with a validator built once.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate(result, spec)`
(`RemoteAction._validate_action_result`), which first checks the schema itself, Rasa's large
events schema, against JSON Schema's metaschema, and builds a new validator. Profiled under
`make bench` (scripts/benchprofile.py) that was 59% of a Rasa worker's CPU: about 50 of the 87 ms
each customer message cost it, with two action server calls a message. The schema never changes,
so it is checked once and one validator serves every reply; each reply is still checked in full
and an invalid one fails with the same error and message as before (the best match among the
errors, Rasa's hint appended). Installed with fast_load.py when Rasa imports rasa_addons;
tests/integration/test_rasa_fast_paths.py compares it with Rasa's own check.
"""

from __future__ import annotations

from typing import Any

from rasa_addons.pinned import pinned_rasa


def install() -> bool:
    """Replace the reply check; False (nothing replaced) without the pinned Rasa."""
    if not pinned_rasa():
        return False
    from jsonschema import exceptions, validators  # type: ignore[import-untyped]
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    current = RemoteAction._validate_action_result
    if getattr(current, "_checked_once", False):
        return True
    spec = RemoteAction.action_response_format_spec()
    validator_class = validators.validator_for(spec)
    validator_class.check_schema(spec)  # what jsonschema.validate did on every reply
    validator = validator_class(spec)

    def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        error = exceptions.best_match(validator.iter_errors(result))
        if error is None:
            return True
        error.message += (
            f". Failed to validate Action server response from API, "
            f"make sure your response from the Action endpoint is valid. "
            f"For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    _validate_action_result._checked_once = True  # type: ignore[attr-defined]
    _validate_action_result.stock = current  # type: ignore[attr-defined]
    RemoteAction._validate_action_result = _validate_action_result
    return True
