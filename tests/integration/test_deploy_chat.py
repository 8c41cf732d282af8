"""scripts/deploy_chat.py, the conversations of `make test-deploy`, against a fake gateway.

The fake speaks the gateway's JSON API on loopback (`POST /api/v1/messages`, the transcript at
`GET /api/v1/conversations/api:<sender>/messages`, bearer token): while a marker file exists
"Rasa" is stopped, messages are kept and answered '系统繁忙' (degraded), and the first transcript
read after the marker is gone answers them, as the gateway's retry does. The stop and start
commands the check runs create and remove the marker. For the gateway replica stopped in the
middle of a report, one message of it can be "lost with its replica": stored, then answered by
the proxy's 502, and answered later (at a transcript read) like a retried message; sent again
with its message_id it is a duplicate without replies, as the gateway answers it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from scripts import deploy_chat

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "deploy-check-token"
BUSY = (
    "系统繁忙，您的消息已记录，稍后会自动回复您。"
    "如遇电线断落、触电等紧急情况，请远离现场并拨打95598。"
)
BILL = {
    "查下上个月电费多少": "查询前需要先验证身份。请输入您的户号。",
    "3301000001": "请输入该户登记手机号的后4位。",
    "0001": "身份验证成功，户名：张*国。电费合计81.24元，已缴清。",
}
#: The fault form as the model runs it: what happened, then a phone, then the ticket.
FAULT = {
    deploy_chat.FAULT_OPENING: "请问具体是什么情况？只有您家没电，还是整个村都停了？",
    "只有我家没电": "请留一个联系电话（11位手机号），方便工作人员联系您。",
    "13905716666": "已为您登记报修，单号：T2612070012。",
}
#: The other household's report, across a gateway replica's stop: a ticket of its own.
REPLICA = {
    deploy_chat.REPLICA_OPENING: FAULT[deploy_chat.FAULT_OPENING],
    "13905717777": "已为您登记报修，单号：T2612070013。",
}
#: A Rasa that lost the conversation: the kept answer starts the form over.
FORGETFUL = {
    **FAULT,
    "只有我家没电": "请问是哪个村哪个组？",
    "东山村3组": FAULT[deploy_chat.FAULT_OPENING],
}


@dataclass
class FakeGateway:
    down_marker: Path
    replies: dict[str, str]
    degrade: bool = True
    lose: str | None = None
    """The text of a message of the stopped-replica report that the 'stopped' replica stores
    and never answers (the proxy says 502)."""
    idempotent: bool = True
    """False: a message sent again with its message_id is stored and answered again."""
    busy_replica: bool = False
    """True: the stopped-replica report is answered '系统繁忙' though "Rasa" is up."""
    answer_kept: bool = True
    """False: the messages answered '系统繁忙' are never answered (no retry)."""
    transcripts: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    kept: list[tuple[str, str]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)

    def post(self, sender: str, text: str, message_id: str | None = None) -> tuple[int, Any]:
        log = self.transcripts.setdefault(sender, [])
        if message_id is not None and (sender, message_id) in self.seen and self.idempotent:
            return 200, {"replies": [], "degraded": False, "duplicate": True}
        if message_id is not None:
            self.seen.add((sender, message_id))
        log.append({"direction": "in", "sender": sender, "text": text, "at": ""})
        if sender.startswith("deploy-replica-") and text == self.lose:
            self.lose = None
            self.kept.append((sender, text))  # answered by another replica's retry, later
            return 502, {"error": "bad gateway"}
        busy = self.busy_replica and sender.startswith("deploy-replica-")
        if (self.down_marker.exists() and self.degrade) or busy:
            self.kept.append((sender, text))
            log.append({"direction": "out", "sender": "bot", "text": BUSY, "at": ""})
            return 200, {"replies": [{"text": BUSY}], "degraded": True}
        reply = self.replies.get(text, "抱歉，我没听懂。")
        log.append({"direction": "out", "sender": "bot", "text": reply, "at": ""})
        return 200, {"replies": [{"text": reply}], "degraded": False}

    def transcript(self, sender: str) -> dict[str, Any]:
        if not self.down_marker.exists() and self.answer_kept:
            for kept_sender, text in self.kept:  # the retry once "Rasa" is back
                reply = self.replies.get(text, "抱歉，我没听懂。")
                self.transcripts[kept_sender].append(
                    {"direction": "out", "sender": "bot", "text": reply, "at": ""}
                )
            self.kept.clear()
        return {"messages": self.transcripts.get(sender, [])}


def _handler(fake: FakeGateway) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return True
            self._answer(401, {"error": {"code": "unauthorized", "message": "token"}})
            return False

        def do_POST(self) -> None:
            if self._authorized():
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._answer(*fake.post(body["sender"], body["text"], body.get("message_id")))

        def do_GET(self) -> None:
            prefix = "/api/v1/conversations/api:"
            if self._authorized() and self.path.startswith(prefix):
                self._answer(200, fake.transcript(self.path[len(prefix) :].split("/")[0]))

        def log_message(self, format: str, *args: Any) -> None:
            return None

    return Handler


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Callable[..., tuple[FakeGateway, list[str]]]]:
    servers: list[ThreadingHTTPServer] = []

    def start(replies: dict[str, str], degrade: bool = True) -> tuple[FakeGateway, list[str]]:
        fake = FakeGateway(tmp_path / "rasa-stopped", replies, degrade)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        marker = str(fake.down_marker)
        argv = [
            "--url", f"http://127.0.0.1:{server.server_address[1]}",
            "--stop-rasa", f"touch {marker}", "--start-rasa", f"rm {marker}", "--within", "10",
        ]  # fmt: skip
        return fake, argv

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_API_TOKEN", TOKEN)


def test_a_conversation_that_goes_on_after_rasas_restart_passes(
    gateway: Callable[..., tuple[FakeGateway, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    fake, argv = gateway({**BILL, **FAULT})
    assert deploy_chat.main(argv) == 0
    assert "ticket T2612070012" in capsys.readouterr().out
    assert not fake.down_marker.exists()  # started again
    sender = next(s for s in fake.transcripts if s.startswith("deploy-fault-"))
    texts = [m["text"] for m in fake.transcripts[sender]]
    assert texts.count("只有我家没电") == 1  # the kept answer was not sent twice
    assert BUSY in texts


def test_a_form_that_starts_over_after_the_restart_fails(
    gateway: Callable[..., tuple[FakeGateway, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, argv = gateway({**BILL, **FORGETFUL})
    assert deploy_chat.main(argv) == 1
    assert "asked again for scope" in capsys.readouterr().err


def test_a_gateway_that_does_not_keep_messages_while_rasa_is_away_fails(
    gateway: Callable[..., tuple[FakeGateway, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, argv = gateway({**BILL, **FAULT}, degrade=False)
    assert deploy_chat.main(argv) == 1
    assert "degraded" in capsys.readouterr().err


def test_a_bill_shown_before_verification_fails(
    gateway: Callable[..., tuple[FakeGateway, list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, argv = gateway({**BILL, "查下上个月电费多少": "上月电费81.24元。", **FAULT})
    assert deploy_chat.main(argv) == 1
    assert "account number" in capsys.readouterr().err


def test_the_busy_notice_is_the_gateways_and_asks_nothing() -> None:
    texts = yaml.safe_load((ROOT / "conf" / "gateway.yml").read_text(encoding="utf-8"))
    busy = texts["replies"]["busy"]["zh"].format(hotline="95598")
    assert busy == BUSY
    assert busy.startswith(deploy_chat.BUSY)
    assert deploy_chat.fault_question(busy) is None  # its '紧急情况' is not the form's question


ReplicaReport = Callable[..., tuple[FakeGateway, int]]


@pytest.fixture
def replica_report(
    gateway: Callable[..., tuple[FakeGateway, list[str]]], tmp_path: Path
) -> ReplicaReport:
    """Runs the stopped-replica report alone (no Rasa stop) against a fake with these
    settings: the fake and deploy_chat's exit status. The stop command touches a marker."""

    def run(**settings: Any) -> tuple[FakeGateway, int]:
        fake, argv = gateway({**BILL, **FAULT, **REPLICA})
        for name, value in settings.items():
            setattr(fake, name, value)
        marker = tmp_path / "gateway-stopped"
        stop = [argv[0], argv[1], "--stop-gateway", f"touch {marker}", "--within", "10"]
        return fake, deploy_chat.main(stop)

    return run


def test_a_report_that_goes_on_after_its_replica_stopped_passes(
    replica_report: ReplicaReport, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the first answer is stored by the stopped replica; its reply comes from the retry
    fake, status = replica_report(lose="只有我家没电")
    assert status == 0
    out = capsys.readouterr().out
    assert "ticket T2612070013; the form went on through another gateway replica" in out
    assert "(1 message(s) sent again)" in out
    assert "HTTP 502" in out
    assert (tmp_path / "gateway-stopped").exists()  # the stop command ran
    sender = next(s for s in fake.transcripts if s.startswith("deploy-replica-"))
    texts = [m["text"] for m in fake.transcripts[sender] if m["direction"] == "in"]
    assert texts == [deploy_chat.REPLICA_OPENING, "只有我家没电", "13905717777"]


def test_a_report_kept_with_the_busy_notice_goes_on_once_answered(
    replica_report: ReplicaReport, capsys: pytest.CaptureFixture[str]
) -> None:
    """A replica that answers '系统繁忙' (Rasa slow after its start) keeps the message: its
    answer, read from the transcript, takes the report on."""
    _, status = replica_report(busy_replica=True)
    assert status == 0
    out = capsys.readouterr().out
    assert "ticket T2612070013" in out
    assert "the retry of the kept message" in out


@pytest.mark.parametrize(
    ("settings", "failure"),
    [
        ({"lose": "只有我家没电", "idempotent": False}, "each message stored once"),
        ({"busy_replica": True, "answer_kept": False}, "was not answered within 10 s"),
        (
            {
                "replies": {
                    **BILL,
                    **FAULT,
                    **REPLICA,
                    "13905717777": "您已经报修过了（单号T2612070012）",
                }
            },
            "taken as reported already",
        ),
    ],
    ids=["resent-message-run-again", "kept-and-never-answered", "reported-already"],
)
def test_a_gateway_that_fails_the_stopped_replica_report_fails(
    replica_report: ReplicaReport,
    capsys: pytest.CaptureFixture[str],
    settings: dict[str, Any],
    failure: str,
) -> None:
    assert replica_report(**settings)[1] == 1
    assert failure in capsys.readouterr().err
