"""Service commitments (conf/commitments.yml): repair times, time limits, verification policy."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from store.configuration.yamlfile import ConfigError, Node
from store.models.accounts import AccountCategory
from store.models.applications import Voltage
from store.workflow import AREA_KINDS, PRIORITIES, TICKET_TYPES

_REPLY_TYPES = ("suggestion", "praise", "violation", "bill_check")
_APP_TYPES = ("capacity_change", "name_transfer", "other_change")


@dataclass(frozen=True)
class NewConnectionLimits:
    """Working days for a new connection, by voltage and customer category."""

    low_residential: int
    low_non_residential: int
    high_single: int
    high_dual: int


VERIFICATION_SCOPES = ("conversation", "client", "account", "station")
"""Where failed identity checks are counted: one chat, one client address, one account number,
the whole station."""


@dataclass(frozen=True)
class VerificationPolicy:
    """How long a verification lasts and how guessing is slowed down (conf: verification)."""

    idle_minutes: int
    window_minutes: int
    backoff_first_seconds: int
    backoff_max_seconds: int
    failures: Mapping[str, int]
    """Per scope (VERIFICATION_SCOPES): failures within the window before the back-off."""

    def wait_seconds(self, failures: int, scope: str) -> int:
        """The back-off after `failures` failures in `scope`: 0 below its limit, then the first
        wait, doubled for every further failure, capped."""
        beyond = failures - self.failures[scope]
        if beyond < 0:
            return 0
        if beyond >= 32:  # 2**32 minutes is past any cap
            return self.backoff_max_seconds
        wait: int = self.backoff_first_seconds * 2**beyond
        return min(wait, self.backoff_max_seconds)


def _verification(node: Node) -> VerificationPolicy:
    backoff = node["backoff"]
    first = backoff["first_seconds"].as_int()
    most = backoff["max_seconds"]
    if most.as_int() < first:
        most.fail(f"at least first_seconds ({first})")
    failures = node["failures"]
    return VerificationPolicy(
        idle_minutes=node["idle_minutes"].as_int(),
        window_minutes=node["window_minutes"].as_int(),
        backoff_first_seconds=first,
        backoff_max_seconds=most.as_int(),
        failures=MappingProxyType({s: failures[s].as_int() for s in VERIFICATION_SCOPES}),
    )


@dataclass(frozen=True)
class Commitments:
    timezone: str
    arrival_minutes_by_kind: Mapping[str, int]
    restoration_hours_by_kind: Mapping[str, int]
    duplicate_window_hours: int
    unknown_area_kind: str
    planned_notice_days: int
    temporary_notice_days: int
    new_connection: NewConnectionLimits
    application_working_days_by_type: Mapping[str, int]
    meter_test_working_days: int
    complaint_contact_hours: int
    complaint_reply_working_days: int
    reconnect_hours: int
    callback_contact_hours: int
    reply_working_days: Mapping[str, int]
    priorities: Mapping[str, str]
    verification: VerificationPolicy

    def arrival_minutes(self, area_kind: str | None) -> int:
        """Committed crew arrival for the area kind (the configured default kind if unknown)."""
        return self.arrival_minutes_by_kind[area_kind or self.unknown_area_kind]

    def restoration_hours(self, area_kind: str | None) -> int:
        return self.restoration_hours_by_kind[area_kind or self.unknown_area_kind]

    def ticket_reply_working_days(self, ticket_type: str) -> int | None:
        """Working days within which the customer gets an answer; None for hour-based types."""
        if ticket_type == "complaint":
            return self.complaint_reply_working_days
        if ticket_type == "meter_test":
            return self.meter_test_working_days
        return self.reply_working_days.get(ticket_type)

    def application_working_days(
        self,
        app_type: str,
        *,
        voltage: str = Voltage.LOW,
        category: str = AccountCategory.RESIDENTIAL,
        dual_supply: bool = False,
    ) -> int:
        """End-to-end limit of an application; new connections depend on voltage and category."""
        if app_type == "new_connection":
            limits = self.new_connection
            if voltage == Voltage.HIGH:
                return limits.high_dual if dual_supply else limits.high_single
            return (
                limits.low_residential
                if category == AccountCategory.RESIDENTIAL
                else limits.low_non_residential
            )
        return self.application_working_days_by_type[app_type]


def _by_kind(node: Node) -> Mapping[str, int]:
    return MappingProxyType({kind: node[kind].as_int() for kind in AREA_KINDS})


def load_commitments(root: Node) -> Commitments:
    timezone = root["timezone"].as_str()
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{root.path}: timezone: unknown time zone {timezone!r}") from exc
    repair = root["repair"]
    apps = root["applications"]
    new = apps["new_connection"]
    priorities = root["priorities"]
    return Commitments(
        timezone=timezone,
        arrival_minutes_by_kind=_by_kind(repair["arrival_minutes"]),
        restoration_hours_by_kind=_by_kind(repair["restoration_hours"]),
        duplicate_window_hours=repair["duplicate_window_hours"].as_int(),
        unknown_area_kind=repair["unknown_area_kind"].choice(AREA_KINDS),
        planned_notice_days=root["outage_notice"]["planned_days"].as_int(),
        temporary_notice_days=root["outage_notice"]["temporary_days"].as_int(),
        new_connection=NewConnectionLimits(
            low_residential=new["low_residential"].as_int(),
            low_non_residential=new["low_non_residential"].as_int(),
            high_single=new["high_single"].as_int(),
            high_dual=new["high_dual"].as_int(),
        ),
        application_working_days_by_type=MappingProxyType(
            {t: apps[t].as_int() for t in _APP_TYPES}
        ),
        meter_test_working_days=root["meter_test"]["working_days"].as_int(),
        complaint_contact_hours=root["complaint"]["contact_hours"].as_int(),
        complaint_reply_working_days=root["complaint"]["reply_working_days"].as_int(),
        reconnect_hours=root["reconnect"]["hours"].as_int(),
        callback_contact_hours=root["callback"]["contact_hours"].as_int(),
        reply_working_days=MappingProxyType({t: root["replies"][t].as_int() for t in _REPLY_TYPES}),
        priorities=MappingProxyType({t: priorities[t].choice(PRIORITIES) for t in TICKET_TYPES}),
        verification=_verification(root["verification"]),
    )
