"""What a failed report child says to staff (bot/report_child.py `reason_of`): one line, its own
last word, never a traceback's frame nor an SQL statement, personal data masked."""

from __future__ import annotations

from bot.report_child import REASON_CHARS, reason_of

TRACEBACK = b"""Traceback (most recent call last):
  File "/app/store/quality_reports/generate.py", line 80, in generate
    raise ValueError(f"no such customer {phone}")
ValueError: no such customer 13812345678 at account 3301000002
"""
SQL = b"""sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed: timeout
[SQL: SELECT * FROM accounts WHERE phone = %(phone)s]
[parameters: {'phone': '13812345678'}]
(Background on this error at: https://sqlalche.me/e/20/e3q8)
"""


def test_the_exception_line_of_a_traceback_masked() -> None:
    said = reason_of(TRACEBACK)
    assert said.startswith("ValueError: no such customer 138")
    assert "13812345678" not in said
    assert "3301000002" not in said
    assert "File" not in said


def test_an_sql_error_says_its_first_line_without_the_statement() -> None:
    said = reason_of(SQL)
    assert said.startswith("sqlalchemy.exc.OperationalError: (psycopg.OperationalError)")
    assert "SELECT" not in said
    assert "phone" not in said


def test_the_cli_message_a_long_line_cut_and_nothing_said() -> None:
    assert reason_of(b"Configuration error: report.top_items: not an integer\n") == (
        "Configuration error: report.top_items: not an integer"
    )
    long = reason_of(b"x" * 500)
    assert (len(long), long[-1]) == (REASON_CHARS, "\u2026")
    assert reason_of(b"") == reason_of(b"\n  \n") == ""
    assert reason_of("报告生成失败：网络中断\n".encode()) == "报告生成失败：网络中断"
