"""The report's own words for the computation's codes (sections, breakdown dimensions, NLU
inbox statuses, proposal kinds): staff read them in Chinese. Figure names come from
conf/quality.yml through `store.quality.label`."""

from __future__ import annotations

from typing import Final

from store.quality_reports.content import ProposalKind
from store.services.quality_reports import SCHEDULE

SECTIONS: Final = {
    "repairs": "故障抢修",
    "applications": "业扩报装与用电变更",
    "complaints": "投诉与客户意见",
    "conversations": "在线客服",
}
DIMENSIONS: Final = {
    "crew": "抢修班组",
    "area": "供电区域",
    "fault_type": "故障类型",
    "stage": "办理环节",
    "type": "业务类型",
    "hour": "时段",
    "channel": "渠道",
    "category": "类别",
    "theme": "主题",
    "intent": "意图",
    "agent": "坐席",
}
INBOX_STATUSES: Final = {
    "open": "待处理",
    "labelled": "已标注",
    "new_intent": "新建意图",
    "out_of_scope": "超出范围",
    "ignored": "已忽略",
}
PROPOSALS: Final = {
    ProposalKind.NEW_MEASURE: "制定措施",
    ProposalKind.OVERDUE: "措施逾期",
    ProposalKind.REVIEW: "复盘",
    ProposalKind.ADJUST: "调整措施",
    ProposalKind.CLOSE: "验收完成",
    ProposalKind.WATCH: "关注",
}
GENERATED_BY_SCHEDULE: Final = SCHEDULE
"""`generated_by` of a report the gateway made by itself at the period's end."""


def section(code: str) -> str:
    return SECTIONS.get(code, code)


def dimension(code: str) -> str:
    return DIMENSIONS.get(code, code)


def generated_by(who: str) -> str:
    return "到期自动生成" if who == GENERATED_BY_SCHEDULE else f"{who} 手动生成"
