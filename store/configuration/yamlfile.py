"""Reading YAML with errors that say which file and which key is wrong.

Every value is read through a `Node`, which remembers the file and the dotted key it came
from, so a bad or missing value stops start-up with e.g.
`conf/commitments.yml: repair.arrival_minutes.rural: expected a positive integer, got 'x'`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import yaml

_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class ConfigError(ValueError):
    """A configuration file is missing, malformed or has an invalid value."""


class Label(NamedTuple):
    """A text in both languages; unpacks as `zh, en`."""

    zh: str
    en: str


@dataclass(frozen=True)
class Node:
    """One value of a YAML file with the place it came from."""

    path: Path
    key: str
    value: Any

    def fail(self, expected: str) -> NoReturn:
        raise ConfigError(
            f"{self.path}: {self.key or '(top level)'}: expected {expected}, got {self.value!r}"
        )

    def _child_key(self, key: str | int) -> str:
        part = f"[{key}]" if isinstance(key, int) else str(key)
        if not self.key:
            return part
        return f"{self.key}{part}" if isinstance(key, int) else f"{self.key}.{part}"

    def mapping(self) -> dict[str, Any]:
        if not isinstance(self.value, dict):
            self.fail("a mapping")
        return self.value

    def has(self, key: str) -> bool:
        return key in self.mapping()

    def __getitem__(self, key: str) -> Node:
        data = self.mapping()
        if key not in data or data[key] is None:
            raise ConfigError(f"{self.path}: {self._child_key(key)} is missing")
        return Node(self.path, self._child_key(key), data[key])

    def get(self, key: str) -> Node | None:
        return self[key] if self.mapping().get(key) is not None else None

    def items(self) -> list[tuple[str, Node]]:
        return [
            (str(k), Node(self.path, self._child_key(str(k)), v)) for k, v in self.mapping().items()
        ]

    def as_list(self) -> list[Node]:
        if not isinstance(self.value, list):
            self.fail("a list")
        return [Node(self.path, self._child_key(i), v) for i, v in enumerate(self.value)]

    def as_str(self) -> str:
        if (
            not isinstance(self.value, str | int)
            or isinstance(self.value, bool)
            or not str(self.value).strip()
        ):
            self.fail("a non-empty text")
        return str(self.value).strip()

    def as_int(self, *, minimum: int = 1) -> int:
        if not isinstance(self.value, int) or isinstance(self.value, bool) or self.value < minimum:
            self.fail(f"an integer >= {minimum}")
        return self.value

    def as_bool(self) -> bool:
        if not isinstance(self.value, bool):
            self.fail("true or false")
        return self.value

    def as_decimal(self) -> Decimal:
        if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
            self.fail("a number")
        try:
            return Decimal(str(self.value))
        except InvalidOperation:
            self.fail("a number")

    def as_date(self) -> date:
        if isinstance(self.value, date):
            return self.value
        try:
            return date.fromisoformat(str(self.value))
        except ValueError:
            self.fail("a date YYYY-MM-DD")

    def as_time(self) -> time:
        match = _HHMM.match(str(self.value))
        if match is None:
            self.fail('a time "HH:MM"')
        return time(int(match.group(1)), int(match.group(2)))

    def choice(self, options: tuple[str, ...] | frozenset[str]) -> str:
        value = self.as_str()
        if value not in options:
            self.fail(f"one of {', '.join(sorted(options))}")
        return value

    def as_label(self) -> Label:
        return Label(self["zh"].as_str(), self["en"].as_str())


def read_yaml(path: Path) -> Node:
    """Parse a YAML file whose top level is a mapping."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file is missing") from exc
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    node = Node(path, "", data)
    node.mapping()
    return node
