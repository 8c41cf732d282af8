"""Reply language of the actions: the detector lives in store.i18n, shared with the gateway."""

from __future__ import annotations

from store.i18n import Language, detect_language, pick

__all__ = ["Language", "detect_language", "pick"]
