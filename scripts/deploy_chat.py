"""The conversations `make test-deploy` holds with a running Docker Compose stack.

Run by scripts/test-deploy.sh once every service is healthy, through the proxy (the one
published port) in front of the gateway replicas. A customer of the JSON API
(`POST /api/v1/messages`) asks for a bill and is refused until verified. Then, with
--stop-rasa/--start-rasa, a fault report: while the fault form waits for an answer, Rasa's
containers are stopped, the answer is sent (the gateway keeps it and says '系统繁忙'), the
containers are started again, and the form must go on where it was (the tracker is in
PostgreSQL): the kept answer is answered once Rasa is back, no question is asked twice, and
the report ends with a ticket. With --stop-gateway, another fault report: once the form has
started, the gateway replica that answered is stopped while the customer's next answer is on
its way; every message goes on through the proxy to another replica, each sent again with its
`message_id` when it got no answer (a 502/503/504 or a dropped connection), and the report
must end with one ticket, no message stored twice and no question asked twice. Standard
library only; the token comes from the environment (GATEWAY_API_TOKEN), never from the
command line.

    python -m scripts.deploy_chat --url http://127.0.0.1:PORT \
        --stop-rasa 'docker stop ID...' --start-rasa 'docker start ID...'
    python -m scripts.deploy_chat --url http://127.0.0.1:PORT --stop-gateway 'COMMAND'
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

TICKET = re.compile(r"T\d{10}")
BUSY = "系统繁忙"  # the start of the gateway's notice while Rasa is away (conf/gateway.yml)
#: The fault form's questions (as tests/e2e drives it) and this customer's answers.
FAULT_OPENING = "东山村3组停电了 俺家啥电器都用不了"
FAULT_ANSWERS = {"village": "东山村3组", "scope": "只有我家没电", "phone": "13905716666"}
#: The report across a gateway replica's stop: another household, so that it opens a ticket of
#: its own (the same household would be told it reported already).
REPLICA_OPENING = "西河村2组停电了 家里灯都不亮"
REPLICA_ANSWERS = {"village": "西河村2组", "scope": "只有我家没电", "phone": "13905717777"}
#: The start of the notice to a household that reported already (domain.yml): what a report
#: run twice would end with instead of a ticket of its own.
ALREADY_REPORTED = "您已经报修过了"


class CheckFailed(Exception):
    """What the deployment got wrong, in a sentence for the log."""


class Unanswered(CheckFailed):
    """No replica answered (the proxy's 502 or 504, a stopping replica's 503): the message may
    be sent again with its message_id."""


#: What the proxy or a stopping gateway answers when no replica ran the request to its end.
UNANSWERED_STATUSES = frozenset({502, 503, 504})


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
            failure = Unanswered if exc.code in UNANSWERED_STATUSES else CheckFailed
            raise failure(f"{path}: HTTP {exc.code} {detail}") from exc

    def say(self, sender: str, text: str, message_id: str | None = None) -> Answer:
        """The bot's answer; `message_id` makes the message idempotent (sent again, e.g. to
        another replica after a failure, it is not processed twice)."""
        body = {"sender": sender, "text": text}
        if message_id is not None:
            body["message_id"] = message_id
        answer = self._call("/api/v1/messages", body)
        replies = "\n".join(str(reply.get("text", "")) for reply in answer["replies"])
        print(f"  customer: {text}\n  bot:      {' / '.join(replies.splitlines())}", flush=True)
        return Answer(replies, bool(answer["degraded"]))

    def transcript(self, sender: str) -> list[dict[str, Any]]:
        answer = self._call(f"/api/v1/conversations/api:{sender}/messages")
        messages: list[dict[str, Any]] = answer["messages"]
        return messages

    def since_last_message(self, sender: str) -> str:
        """The bot's texts after the customer's last message (the busy notice left out)."""
        messages = self.transcript(sender)
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


def _answered_later(
    gateway: Gateway, sender: str, within: float, since: str = "Rasa's start"
) -> tuple[str, float]:
    """The reply the gateway delivers later (once Rasa is back, or the retry of a message a
    stopped replica kept), and how long that took."""
    start = time.monotonic()
    while time.monotonic() - start < within:
        try:
            later = gateway.since_last_message(sender)
        except (CheckFailed, OSError):  # the gateway itself is fine; keep asking
            later = ""
        if later:
            return later, time.monotonic() - start
        time.sleep(2)
    raise CheckFailed(f"the kept message was not answered within {within:.0f} s of {since}")


def _fill_fault_form(
    text: str,
    answered: set[str],
    answer: Callable[[str], str],
    answers: dict[str, str] = FAULT_ANSWERS,
) -> str:
    """The ticket number at the end of the fault form whose question `text` asks: each
    question answered from `answers` with `answer` (the customer's answer → the bot's reply),
    none asked twice (`answered`: the questions answered already)."""
    for _ in range(len(answers) + 1):
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
        text = answer(answers[question])
    raise CheckFailed(f"no ticket after every answer: {text}")


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
    return _fill_fault_form(text, {asked}, lambda answer: gateway.say(me, answer).text)


def say_until_answered(gateway: Gateway, sender: str, text: str, within: float) -> tuple[str, int]:
    """The bot's answer to `text`, sent with one message_id as often as no replica answers
    (at most `within` seconds), and how many times it was sent. A replica that had stored the
    message before it stopped leaves it to the others' retry: the resent message is then a
    duplicate without replies yet, and its answer is read from the transcript. So is the
    answer to a message a replica kept with '系统繁忙' (a Rasa worker slow after its start, or
    a replica still waiting for its retry worker to find Rasa back)."""
    message_id = uuid.uuid4().hex
    start = time.monotonic()
    sends = 0
    while True:
        sends += 1
        try:
            answer = gateway.say(sender, text, message_id)
        except (Unanswered, OSError) as exc:
            if time.monotonic() - start > within:
                failure = f"no replica answered {text!r} within {within:.0f} s: {exc}"
                raise CheckFailed(failure) from exc
            print(f"  (no answer: {exc}; sent again with the same message_id)", flush=True)
            time.sleep(1)
            continue
        if answer.text and not answer.degraded:
            return answer.text, sends
        since = "its '系统繁忙'" if answer.degraded else "sending it again"
        later, waited = _answered_later(gateway, sender, within, since)
        print(f"  bot (the retry of the kept message, {waited:.0f} s later): {later}", flush=True)
        return later, sends


def _start(command: str) -> subprocess.Popen[bytes]:
    print(f"  $ {command} &", flush=True)
    return subprocess.Popen(shlex.split(command), stdout=subprocess.DEVNULL)


def check_fault_report_across_a_gateway_stop(
    gateway: Gateway, stop_gateway: str, within: float
) -> tuple[str, int]:
    """The ticket of a fault report whose gateway replica was stopped in the middle (once the
    form had started, while the next answer was sent), and how many messages had to be sent
    again."""
    me = f"deploy-replica-{uuid.uuid4().hex[:8]}"
    sent: list[str] = []
    sends: list[int] = []
    stopping: list[subprocess.Popen[bytes]] = []

    def answer(text: str) -> str:
        reply, times = say_until_answered(gateway, me, text, within)
        sent.append(text)
        sends.append(times)
        for stop in stopping:  # the replica is stopped by now, whichever took this message
            _expect(stop.wait(timeout=within) == 0, "stopping the gateway replica failed")
        stopping.clear()
        return reply

    text = answer(REPLICA_OPENING)
    if fault_question(text) is None:
        raise CheckFailed(f"the fault report should start the fault form: {text}")
    stopping.append(_start(stop_gateway))
    ticket = _fill_fault_form(text, set(), answer, REPLICA_ANSWERS)
    messages = gateway.transcript(me)
    stored = [str(m["text"]) for m in messages if m["direction"] == "in"]
    _expect(stored == sent, f"each message stored once, in order: sent {sent}, stored {stored}")
    replies = [str(m["text"]) for m in messages if m["direction"] == "out"]
    tickets = {t for text in replies for t in TICKET.findall(text)}
    _expect(tickets == {ticket}, f"one ticket for the report, not {sorted(tickets)}")
    _expect(
        not any(ALREADY_REPORTED in text for text in replies),
        "the report was taken as reported already: a message of it ran twice, or the household"
        " had an open ticket",
    )
    return ticket, sum(sends) - len(sends)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy_chat", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the gateway, e.g. http://127.0.0.1:8080")
    parser.add_argument("--stop-rasa", help="command that stops Rasa's containers")
    parser.add_argument("--start-rasa", help="command that starts them again")
    parser.add_argument(
        "--stop-gateway", help="command that stops the gateway replica that answered last"
    )
    parser.add_argument(
        "--within", type=float, default=600, help="seconds for Rasa, or an answer, to be back"
    )
    args = parser.parse_args(argv)
    if (args.stop_rasa is None) != (args.start_rasa is None):
        parser.error("--stop-rasa and --start-rasa go together")
    token = os.environ.get("GATEWAY_API_TOKEN", "")
    if not token:
        parser.error("set GATEWAY_API_TOKEN (the stack's API token) in the environment")
    gateway = Gateway(args.url.rstrip("/"), token)
    done = []
    try:
        print("a bill question before verification:", flush=True)
        check_bill_refused_before_verification(gateway)
        if args.stop_rasa is not None:
            print("a fault report, Rasa stopped and started in the middle:", flush=True)
            ticket = check_fault_report_across_a_rasa_restart(
                gateway, args.stop_rasa, args.start_rasa, args.within
            )
            done.append(f"ticket {ticket}; the form went on after Rasa's restart")
        if args.stop_gateway is not None:
            print("a fault report, its gateway replica stopped in the middle:", flush=True)
            ticket, resent = check_fault_report_across_a_gateway_stop(
                gateway, args.stop_gateway, args.within
            )
            done.append(
                f"ticket {ticket}; the form went on through another gateway replica"
                f" ({resent} message(s) sent again)"
            )
    except (CheckFailed, subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    print(f"conversations OK: {'; '.join(done) or 'the bill question'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
