"""Tables of the stores (SQLAlchemy 2.0 typed declarative models), one module per area.

Status and kind values are short codes, `StrEnum`s beside their tables (the database stores the
plain strings); what customers read for them is in conf/labels.yml. Every name is importable
from `store.models`; importing this package registers every table on `Base.metadata` (Alembic
compares against it).

| module | tables |
|---|---|
| accounts | service_areas, accounts, bills |
| tickets | outages, tickets, ticket_events |
| crews | crews, crew_areas, ticket_photos |
| applications | applications, application_events |
| numbers | number_sequences |
| identity | verification_attempts, verified_conversations, identity_disclosures |
| conversations | conversations, messages |
| notifications | notification_deliveries, notification_cursors |
| outage_notices | outage_areas, outage_subscriptions, outage_notices, outage_deliveries, |
| | outage_channel_pace |
| staff | staff_users, staff_sessions, access_audit, canned_replies |
| handoffs | handoff_requests, handoffs, handoff_events, agent_notes, ratings |
| imports | import_runs |
| wechat | wechat_access_tokens, wechat_followers |
| nlu | nlu_models, nlu_model_events, nlu_training_jobs, nlu_inbox_items, nlu_inbox_hits, |
| | rasa_serving |
| quality | quality_measures, quality_reports, quality_report_jobs, quality_*_facts, |
| | quality_conversation_days, quality_refresh_state |
"""

from __future__ import annotations

from store.models.accounts import (
    Account,
    AccountCategory,
    AreaKind,
    Bill,
    ServiceArea,
    SupplyStatus,
)
from store.models.applications import (
    Application,
    ApplicationDecision,
    ApplicationEvent,
    ApplicationStage,
    Voltage,
)
from store.models.base import Base, Money
from store.models.conversations import (
    MESSAGE_DIRECTIONS,
    MESSAGE_SENDERS,
    MESSAGE_STATUSES,
    Conversation,
    Message,
    MessageDirection,
    MessageSender,
    MessageStatus,
)
from store.models.crews import CALLBACK_RESULTS, CallbackResult, Crew, TicketPhoto, crew_areas
from store.models.handoffs import (
    HANDOFF_CLOSED_STATES,
    HANDOFF_OPEN_STATES,
    HANDOFF_PRIORITIES,
    HANDOFF_STATES,
    AgentNote,
    Handoff,
    HandoffEvent,
    HandoffPriority,
    HandoffRequest,
    HandoffRequestStatus,
    HandoffState,
    Rating,
)
from store.models.identity import (
    DISCLOSURE_KINDS,
    VERIFICATION_END_REASONS,
    VERIFICATION_METHODS,
    DisclosureKind,
    IdentityDisclosure,
    VerificationAttempt,
    VerificationEndReason,
    VerificationMethod,
    VerifiedConversation,
)
from store.models.imports import IMPORT_KINDS, ImportKind, ImportRun
from store.models.nlu import (
    NLU_INBOX_OPEN_WHERE,
    NLU_INBOX_REASONS,
    NLU_INBOX_STATUSES,
    NLU_JOB_ACTIVE_STATUSES,
    NLU_JOB_ACTIVE_WHERE,
    NLU_JOB_END_STATUSES,
    NLU_JOB_KINDS,
    NLU_JOB_STATUSES,
    NLU_MODEL_ACTIONS,
    NLU_MODEL_STATUSES,
    NluInboxHit,
    NluInboxItem,
    NluInboxReason,
    NluInboxStatus,
    NluJobKind,
    NluJobStatus,
    NluModel,
    NluModelAction,
    NluModelEvent,
    NluModelStatus,
    NluTrainingJob,
    RasaServing,
)
from store.models.notifications import (
    DELIVERED_STATUSES,
    NOTIFICATION_SOURCES,
    NOTIFICATION_STATUSES,
    NotificationCursor,
    NotificationDelivery,
    NotificationSource,
    NotificationStatus,
)
from store.models.numbers import NumberSequence
from store.models.outage_notices import (
    DELIVERY_DONE,
    DELIVERY_STATES,
    FINAL_NOTICE_KINDS,
    NOTICE_KINDS,
    URGENT_NOTICE_KINDS,
    DeliveryState,
    NoticeState,
    OutageArea,
    OutageChannelPace,
    OutageDelivery,
    OutageNotice,
    OutageNoticeKind,
    OutageSubscription,
    SubscriptionEnd,
)
from store.models.quality import (
    REPORT_JOB_RUNNING_WHERE,
    MeasureStatus,
    QualityApplicationFacts,
    QualityConversationDay,
    QualityHandoffFacts,
    QualityMeasure,
    QualityRefreshState,
    QualityReport,
    QualityReportJob,
    QualityStageFacts,
    QualityTicketFacts,
    ReportJobState,
    ReportKind,
)
from store.models.staff import (
    ACCESS_KINDS,
    STAFF_AVAILABILITY,
    AccessAudit,
    AccessKind,
    CannedReply,
    StaffAvailability,
    StaffSession,
    StaffUser,
    Team,
)
from store.models.tickets import (
    CaseVerdict,
    Outage,
    OutageKind,
    Ticket,
    TicketEvent,
    TicketPriority,
    TicketStatus,
    TicketType,
)
from store.models.wechat import WeChatAccessToken, WeChatFollower
from store.roles import STAFF_ROLES

__all__ = [
    "ACCESS_KINDS",
    "CALLBACK_RESULTS",
    "DELIVERED_STATUSES",
    "DELIVERY_DONE",
    "DELIVERY_STATES",
    "DISCLOSURE_KINDS",
    "FINAL_NOTICE_KINDS",
    "HANDOFF_CLOSED_STATES",
    "HANDOFF_OPEN_STATES",
    "HANDOFF_PRIORITIES",
    "HANDOFF_STATES",
    "IMPORT_KINDS",
    "MESSAGE_DIRECTIONS",
    "MESSAGE_SENDERS",
    "MESSAGE_STATUSES",
    "NLU_INBOX_OPEN_WHERE",
    "NLU_INBOX_REASONS",
    "NLU_INBOX_STATUSES",
    "NLU_JOB_ACTIVE_STATUSES",
    "NLU_JOB_ACTIVE_WHERE",
    "NLU_JOB_END_STATUSES",
    "NLU_JOB_KINDS",
    "NLU_JOB_STATUSES",
    "NLU_MODEL_ACTIONS",
    "NLU_MODEL_STATUSES",
    "NOTICE_KINDS",
    "NOTIFICATION_SOURCES",
    "NOTIFICATION_STATUSES",
    "REPORT_JOB_RUNNING_WHERE",
    "STAFF_AVAILABILITY",
    "STAFF_ROLES",
    "URGENT_NOTICE_KINDS",
    "VERIFICATION_END_REASONS",
    "VERIFICATION_METHODS",
    "AccessAudit",
    "AccessKind",
    "Account",
    "AccountCategory",
    "AgentNote",
    "Application",
    "ApplicationDecision",
    "ApplicationEvent",
    "ApplicationStage",
    "AreaKind",
    "Base",
    "Bill",
    "CallbackResult",
    "CannedReply",
    "CaseVerdict",
    "Conversation",
    "Crew",
    "DeliveryState",
    "DisclosureKind",
    "Handoff",
    "HandoffEvent",
    "HandoffPriority",
    "HandoffRequest",
    "HandoffRequestStatus",
    "HandoffState",
    "IdentityDisclosure",
    "ImportKind",
    "ImportRun",
    "MeasureStatus",
    "Message",
    "MessageDirection",
    "MessageSender",
    "MessageStatus",
    "Money",
    "NluInboxHit",
    "NluInboxItem",
    "NluInboxReason",
    "NluInboxStatus",
    "NluJobKind",
    "NluJobStatus",
    "NluModel",
    "NluModelAction",
    "NluModelEvent",
    "NluModelStatus",
    "NluTrainingJob",
    "NoticeState",
    "NotificationCursor",
    "NotificationDelivery",
    "NotificationSource",
    "NotificationStatus",
    "NumberSequence",
    "Outage",
    "OutageArea",
    "OutageChannelPace",
    "OutageDelivery",
    "OutageKind",
    "OutageNotice",
    "OutageNoticeKind",
    "OutageSubscription",
    "QualityApplicationFacts",
    "QualityConversationDay",
    "QualityHandoffFacts",
    "QualityMeasure",
    "QualityRefreshState",
    "QualityReport",
    "QualityReportJob",
    "QualityStageFacts",
    "QualityTicketFacts",
    "RasaServing",
    "Rating",
    "ReportJobState",
    "ReportKind",
    "ServiceArea",
    "StaffAvailability",
    "StaffSession",
    "StaffUser",
    "SubscriptionEnd",
    "SupplyStatus",
    "Team",
    "Ticket",
    "TicketEvent",
    "TicketPhoto",
    "TicketPriority",
    "TicketStatus",
    "TicketType",
    "VerificationAttempt",
    "VerificationEndReason",
    "VerificationMethod",
    "VerifiedConversation",
    "Voltage",
    "WeChatAccessToken",
    "WeChatFollower",
    "crew_areas",
]
