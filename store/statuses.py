"""The status and kind codes of the stores, without their tables: what the gateway (bot/, which
never imports store.models) compares against. Each is a `StrEnum` defined beside its table in
store/models/; a member equals its string, and the database stores the plain string."""

from __future__ import annotations

from store.models import (
    DELIVERED_STATUSES,
    HANDOFF_CLOSED_STATES,
    HANDOFF_OPEN_STATES,
    NLU_JOB_ACTIVE_STATUSES,
    NLU_JOB_END_STATUSES,
    AccessKind,
    ApplicationStage,
    HandoffPriority,
    HandoffRequestStatus,
    HandoffState,
    MessageDirection,
    MessageSender,
    MessageStatus,
    NluInboxReason,
    NluInboxStatus,
    NluJobKind,
    NluJobStatus,
    NluModelAction,
    NluModelStatus,
    NotificationSource,
    NotificationStatus,
    StaffAvailability,
    TicketStatus,
    TicketType,
)

__all__ = [
    "DELIVERED_STATUSES",
    "HANDOFF_CLOSED_STATES",
    "HANDOFF_OPEN_STATES",
    "NLU_JOB_ACTIVE_STATUSES",
    "NLU_JOB_END_STATUSES",
    "AccessKind",
    "ApplicationStage",
    "HandoffPriority",
    "HandoffRequestStatus",
    "HandoffState",
    "MessageDirection",
    "MessageSender",
    "MessageStatus",
    "NluInboxReason",
    "NluInboxStatus",
    "NluJobKind",
    "NluJobStatus",
    "NluModelAction",
    "NluModelStatus",
    "NotificationSource",
    "NotificationStatus",
    "StaffAvailability",
    "TicketStatus",
    "TicketType",
]
