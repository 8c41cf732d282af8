"""The simulated customer's script: what it says, and how it answers the fault form."""

from __future__ import annotations

import re

TICKET = re.compile(r"T\d{10}")
FAULT_OPENING = "东山村3组停电了 俺家啥电器都用不了"
VILLAGE, SCOPE = "东山村3组", "只有我家没电"
ACCOUNT, PHONE_DIGITS = "3301000001", "0001"
MAX_FORM_ANSWERS = 4

# Phases of a conversation, each a run of (message, what the reply should contain); an empty
# expectation marks the fault report, whose form asks its own questions.
PHASES: tuple[tuple[tuple[str, str], ...], ...] = (
    (("你好", "供电所"),),
    ((FAULT_OPENING, ""),),
    (("阶梯电价咋算", "阶梯"),),
    (("查下上个月电费多少", "户号"), (ACCOUNT, "后4位"), (PHONE_DIGITS, "电费合计")),
    (("谢谢", "不客气"),),
)


class Customer:
    """One conversation of a simulated customer: greeting, an outage report in a demo village
    (answering whatever the fault form asks), a tariff question, a bill question with identity
    verification, thanks. The phrasings are ones the model is trained and tested on.

    `first_phase` starts the conversation further on (each phase stands on its own): when many
    customers start at once, their first messages are then a mix of the script, not all
    greetings. `next_message(reply)` gives what the customer says after the bot's reply (None
    first), or None when the script is done. A reply without what the script expects counts in
    `off_script`, and the conversation goes on with the next step."""

    def __init__(self, phone: str, first_phase: int = 0) -> None:
        self.phone = phone
        self.off_script = 0
        self._steps = [step for phase in PHASES[first_phase % len(PHASES) :] for step in phase]
        self._step = -1
        self._form_answers = 0

    def next_message(self, reply: str | None) -> str | None:
        if self._step >= 0 and reply is not None:
            _, expected = self._steps[self._step]
            if not expected:
                answer = self._form_answer(reply)
                if answer is not None:
                    return answer
            elif expected not in reply:
                self.off_script += 1
        self._step += 1
        if self._step >= len(self._steps):
            return None
        return self._steps[self._step][0]

    def _form_answer(self, reply: str) -> str | None:
        """The answer to the fault form's question, or None when the form is over."""
        if TICKET.search(reply):
            return None
        if self._form_answers >= MAX_FORM_ANSWERS:
            self.off_script += 1
            return None
        self._form_answers += 1
        if "哪个村" in reply or "没有在本所供电范围" in reply:
            return VILLAGE
        if "情况" in reply:
            return SCOPE
        if "电话" in reply:
            return self.phone
        self.off_script += 1
        return None


def phone_number(n: int) -> str:
    """A distinct mobile number per customer: a fault report's duplicate check matches phones."""
    return f"139{n % 10**8:08d}"
