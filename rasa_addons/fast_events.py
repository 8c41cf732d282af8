"""Look an event's class up by its type name without walking every class each time.

Rasa 3.6 turns each stored event back into an object with `Event.resolve_by_type(type_name)`,
which walks every subclass of `Event` (`all_subclasses`, asking `inspect.isabstract` of each)
for every event of every tracker loaded: a conversation of 150 events walks the tree 150 times
per message. Profiled under `make bench` (scripts/benchprofile.py) the walk was about 5% of a Rasa
worker's CPU per message. The answer only changes when a new subclass of `Event` is defined, so
the names are looked up in a table built by the same walk, and the table is built again whenever
a subclass of `Event` is defined after it (Python tells `Event.__init_subclass__`). Unknown names
fall through to Rasa's own function, which answers them as before (`None` for "topic", the
default, or its ValueError). Installed with the other fast paths when Rasa imports rasa_addons;
tests/integration/test_rasa_fast_paths.py compares it with Rasa's own lookup.
"""

from __future__ import annotations

from typing import Any

from rasa_addons.pinned import pinned_rasa


def install() -> bool:
    """Replace the lookup; False (nothing replaced) without the pinned Rasa."""
    if not pinned_rasa():
        return False
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    current = Event.__dict__["resolve_by_type"]
    if getattr(current.__func__, "_tabled", False):
        return True
    stock = current.__func__
    table: dict[str, Any] = {}

    def forget(cls: type, /, **kwargs: Any) -> None:
        table.clear()  # a new kind of event: build the table again at the next lookup
        super(Event, cls).__init_subclass__(**kwargs)

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        if not table:
            for cls in reversed(all_subclasses(Event)):  # the first of a name wins, as in Rasa's
                table[cls.type_name] = cls
        found = table.get(type_name)
        return found if found is not None else stock(type_name, default)

    resolve_by_type._tabled = True  # type: ignore[attr-defined]
    resolve_by_type.stock = stock  # type: ignore[attr-defined]
    Event.__init_subclass__ = classmethod(forget)
    Event.resolve_by_type = staticmethod(resolve_by_type)
    return True
