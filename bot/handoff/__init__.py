"""Human handoff in the gateway: the gate (while a person has the chat the bot never answers),
the triggers that queue a conversation, notices, callbacks, the survey and the watcher.

`HandoffDesk` (bot/handoff/desk.py) is the one object the router and the agent console use;
its settings and customer texts are in conf/handoff.yml (bot/handoff/config.py).
"""

from bot.handoff.config import HandoffConfig, load_handoff_config
from bot.handoff.desk import AgentRef, GateResult, HandoffDesk, HandoffView

__all__ = [
    "AgentRef",
    "GateResult",
    "HandoffConfig",
    "HandoffDesk",
    "HandoffView",
    "load_handoff_config",
]
