"""The conversations `make test-deploy` holds with a running Docker Compose stack.

Run by scripts/test-deploy.sh once every service is healthy: a customer of the JSON API
(`POST /api/v1/messages`, the gateway's only published port) asks for a bill and is refused
until verified, then reports a fault; while the fault form waits for an answer, Rasa's
container is stopped, the answer is sent (the gateway keeps it and says '系统繁忙'), the
container is started again, and the form must go on where it was (the tracker is in
PostgreSQL): the kept answer is answered once Rasa is back, no question is asked twice, and
the report ends with a ticket. Standard library only; the token comes from the environment
(GATEWAY_API_TOKEN), never from the command line.

    python -m scripts.deploy_chat --url http://127.0.0.1:PORT \
        --stop-rasa 'docker stop ID' --start-rasa 'docker start ID'
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

TICKET = re.compile(r"T\d{10}")
BUSY = "系统繁忙"  # the start of the gateway's notice while Rasa is away (conf/gateway.yml)
#: The fault form's questions (as tests/e2e drives it) and this customer's answers.
FAULT_OPENING = "东山村3组停电了 俺家啥电器都用不了"
FAULT_ANSWERS = {"village": "东山村3组", "scope": "只有我家没电", "phone": "13905716666"}


class CheckFailed(Exception):
    """What the deployment got wrong, in a sentence for the log."""


@dataclass(frozen=True)
class Answer:
    text: str
    degraded: bool


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str
    timeout: float = 60.0

    def _call(self, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url + path,
            data=data,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                result: dict[str, Any] = json.load(response)
                return result
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:300]
            raise CheckFailed(f"{path}: HTTP {exc.code} {detail}") from exc

    def say(self, sender: str, text: str) -> Answer:
        answer = self._call("/api/v1/messages", {"sender": sender, "text": text})
        replies = "\n".join(str(reply.get("text", "")) for reply in answer["replies"])
        print(f"  customer: {text}\n  bot:      {' / '.join(replies.splitlines())}", flush=True)
        return Answer(replies, bool(answer["degraded"]))

    def since_last_message(self, sender: str) -> str:
        """The bot's texts after the customer's last message (the busy notice left out)."""
        messages = self._call(f"/api/v1/conversations/api:{sender}/messages")["messages"]
        last_in = max((i for i, m in enumerate(messages) if m["direction"] == "in"), default=-1)
        return "\n".join(
            str(m["text"])
            for m in messages[last_in + 1 :]
            if m["direction"] == "out" and BUSY not in str(m["text"])
        )


def _expect(condition: bool, failure: str) -> None:
    if not condition:
        raise CheckFailed(failure)


def fault_question(reply: str) -> str | None:
    """Which question of the fault form `reply` asks; None when it asks none of them (the
    busy notice included: its '紧急情况' is not the form's question)."""
    if BUSY in reply:
        return None
    if "哪个村" in reply or "没有在本所供电范围" in reply:
        return "village"
    if "情况" in reply:
        return "scope"
    if "电话" in reply:
        return "phone"
    return None


def check_bill_refused_before_verification(gateway: Gateway) -> None:
    me = f"deploy-bill-{uuid.uuid4().hex[:8]}"
    ask = gateway.say(me, "查下上个月电费多少")
    _expect("户号" in ask.text, f"a bill question must ask for the account number first: {ask}")
    _expect("元" not in ask.text, f"nothing of the bill before verification: {ask}")
    _expect("后4位" in gateway.say(me, "3301000001").text, "no question for the phone's digits")
    bill = gateway.say(me, "0001")
    _expect("验证成功" in bill.text and "电费合计" in bill.text, f"no bill after verifying: {bill}")


def _run(command: str) -> None:
    print(f"  $ {command}", flush=True)
    subprocess.run(shlex.split(command), check=True, stdout=subprocess.DEVNULL)


def _answered_later(gateway: Gateway, sender: str, within: float) -> tuple[str, float]:
    """The reply the gateway delivers once Rasa is back, and how long that took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        try:
            later = gateway.since_last_message(sender)
        except (CheckFailed, OSError):  # the gateway itself is fine; keep asking
            later = ""
        if later:
            return later, time.monotonic() - start
        time.sleep(2)
    raise CheckFailed(f"the kept message was not answered within {within:.0f} s of Rasa's start")


def check_fault_report_across_a_rasa_restart(
    gateway: Gateway, stop_rasa: str, start_rasa: str, within: float
) -> str:
    """The ticket number of a fault report that Rasa's restart interrupted."""
    me = f"deploy-fault-{uuid.uuid4().hex[:8]}"
    reply = gateway.say(me, FAULT_OPENING)
    asked = fault_question(reply.text)
    if asked is None:
        raise CheckFailed(f"the fault report should start the fault form: {reply}")
    _run(stop_rasa)
    kept = gateway.say(me, FAULT_ANSWERS[asked])
    _expect(kept.degraded, f"with Rasa stopped the gateway should answer degraded: {kept}")
    _run(start_rasa)
    text, waited = _answered_later(gateway, me, within)
    print(f"  bot (once Rasa was back, {waited:.0f} s after its start): {text}", flush=True)
    answered = {asked}
    for _ in range(len(FAULT_ANSWERS) + 1):
        if found := TICKET.search(text):
            return found.group(0)
        question = fault_question(text)
        if question is None:
            raise CheckFailed(f"unexpected reply in the fault form: {text}")
        _expect(
            question not in answered,
            f"asked again for {question}: the answer was not taken, or the form started over",
        )
        answered.add(question)
        text = gateway.say(me, FAULT_ANSWERS[question]).text
    raise CheckFailed(f"no ticket after every answer: {text}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    parser.add_argument("--stop-rasa", required=True, help="command that stops Rasa's container")
    parser.add_argument("--start-rasa", required=True, help="command that starts it again")
    parser.add_argument("--within", type=float, default=600, help="seconds for Rasa to be back")
    args = parser.parse_args(argv)
    token = os.environ.get("GATEWAY_API_TOKEN", "")
    if not token:
        parser.error("set GATEWAY_API_TOKEN (the stack's API token) in the environment")
    gateway = Gateway(args.url.rstrip("/"), token)
    try:
        print("a bill question before verification:", flush=True)
        check_bill_refused_before_verification(gateway)
        print("a fault report, Rasa's container stopped and started in the middle:", flush=True)
        ticket = check_fault_report_across_a_rasa_restart(
            gateway, args.stop_rasa, args.start_rasa, args.within
        )
    except (CheckFailed, subprocess.CalledProcessError, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"conversations OK: ticket {ticket}; the form went on after Rasa's restart", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
