"""Human handoff in the gateway: the gate (while a person has the chat the bot never answers),
the triggers that queue a conversation, notices, callbacks, the survey and the watcher.

`HandoffDesk` (desk.py) is the one object the router and the agent console use; it composes

| module | what |
|---|---|
| `views.py` | the values it hands out (`HandoffView`, `GateResult`, `AgentRef`) and `Outcome` |
| `context.py` | what the parts share: settings, clock, database, events, customer texts |
| `gate.py`, `survey.py` | every customer message: the open handoff's gate; the rating after |
| `triggers.py` | after a turn or a failure: what queues a conversation for a person |
| `escalation.py` | queueing it: the customer told, auto-assignment, alerts, the NLU inbox |
| `agents.py` | the console's reads and commands (claim, transfer, hand back, resolve, ...) |
| `watcher.py` | the background pass: silent customers, wait-limit notices, auto-assignment |

Its settings and customer texts are in conf/handoff.yml (config.py).
"""

from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.handoff.desk import HandoffDesk
from bot.handoff.views import AgentRef, GateResult, HandoffView

__all__ = [
    "AgentRef",
    "GateResult",
    "HandoffConfig",
    "HandoffDesk",
    "HandoffView",
    "load_handoff_config",
]
