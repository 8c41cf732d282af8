"""rasa_addons/fast_events.py, in Rasa's environment: an event's class found by its type name
from the table is the one Rasa's own walk finds, for every name, unknown names and defaults
included; a kind of event defined afterwards is found too; trackers rebuilt from stored events
are the same either way."""

from __future__ import annotations

from tests.processes import rasa_script

SCRIPT = """
import json
import rasa_addons  # installs the table
from rasa.shared.core.events import Event, UserUttered, SlotSet, ActionExecuted
from rasa.shared.core.slots import TextSlot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses

ours = Event.resolve_by_type
assert getattr(ours, "_tabled", False), "rasa_addons did not install the table"
stock = ours.stock

def outcome(lookup, name, default):
    try:
        found = lookup(name, default)
    except ValueError as error:
        return ["error", str(error)]
    return ["class", found.__module__ + "." + found.__qualname__] if found else ["none"]

names = sorted({cls.type_name for cls in all_subclasses(Event)})
cases = [(n, None) for n in names] + [("topic", None), ("no_such_event", None),
         ("no_such_event", UserUttered), ("user", SlotSet)]
same = [outcome(ours, n, d) == outcome(stock, n, d) for n, d in cases]
found_before = outcome(ours, "township_test_event", None)

class TownshipTestEvent(SlotSet):  # a kind of event defined after the table was built
    type_name = "township_test_event"

found_after = outcome(ours, "township_test_event", None)
events = [ActionExecuted("action_listen").as_dict(),
          UserUttered("停电了", {"name": "report_fault", "confidence": 0.9}).as_dict(),
          SlotSet("village", "西河村").as_dict(), {"event": "township_test_event",
          "name": "village", "value": "东山村", "timestamp": 1796000000.0}]
slots = [TextSlot("village", mappings=[{}])]
tracker = DialogueStateTracker.from_dict("c", events, slots)
Event.resolve_by_type = staticmethod(stock)
stock_tracker = DialogueStateTracker.from_dict("c", events, slots)
print(json.dumps({"names": len(names), "same": same, "before": found_before,
                  "after": found_after,
                  "events": [type(e).__name__ for e in tracker.events],
                  "stock_events": [type(e).__name__ for e in stock_tracker.events],
                  "equal": tracker.current_state() == stock_tracker.current_state(),
                  "village": tracker.get_slot("village")}))
"""


def test_event_classes_are_found_as_rasa_finds_them() -> None:
    found = rasa_script(SCRIPT)
    assert found["names"] > 20  # Rasa's own kinds of event, every one compared
    assert all(found["same"]), found["same"]
    assert found["before"] == ["error", "Unknown event name 'township_test_event'."]
    assert found["after"] == ["class", "__main__.TownshipTestEvent"]
    # the new kind's name is known (Rasa's SlotSet builds its own class from the parameters)
    assert found["events"] == ["ActionExecuted", "UserUttered", "SlotSet", "SlotSet"]
    assert found["events"] == found["stock_events"]
    assert found["equal"] is True
    assert found["village"] == "东山村"
