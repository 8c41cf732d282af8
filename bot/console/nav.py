"""The console's navigation: one list of its sections, each shown only to the roles its route
admits (the same role sets `auth.require` checks), rendered on the server into every page's bar
(`{{>nav}}` in a page template, see `pages.ConsoleFiles.render`).

A page's links therefore never offer a section the staff member would be refused, and a manager,
who may open most of them, can move between them from any page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Final

from store import roles


@dataclass(frozen=True)
class Section:
    path: str
    label: str
    roles: frozenset[str]
    page: str
    """the template that renders it: that page's own link is marked as the current one"""


SECTIONS: Final[tuple[Section, ...]] = (
    Section("/console", "坐席工作台", roles.WORKS_CHATS, "console.html"),
    Section("/console/supervisor", "班长视图", roles.OVERSEES, "console-supervisor.html"),
    Section("/console/quality", "服务质量", roles.READS_QUALITY, "console-quality.html"),
    Section(
        "/console/quality/scorecards",
        "绩效评分卡",
        roles.READS_SCORECARDS,
        "console-scorecards.html",
    ),
    Section(
        "/console/quality/reports",
        "评价报告",
        roles.READS_QUALITY,
        "console-quality-reports.html",
    ),
    Section("/console/nlu", "意图训练", roles.RETRAINS_NLU, "console-nlu.html"),
    Section("/console/tickets", "抢修工单", roles.DISPATCHES, "console-tickets.html"),
    Section("/console/outages", "停电通知", roles.PUBLISHES_OUTAGES, "console-outages.html"),
    Section("/console/crew", "班组任务", roles.WORKS_CREW_TICKETS, "console-crew.html"),
    Section("/console/feedback", "投诉与意见", roles.WORKS_CASES, "console-feedback.html"),
    Section("/console/applications", "业务申请", roles.WORKS_CASES, "console-applications.html"),
    Section("/console/customers", "客户档案", roles.READS_CUSTOMERS, "console-customers.html"),
    Section("/console/import", "数据导入", roles.IMPORTS_DATA, "console-import.html"),
)
"""Every section of the console, in the order the bar shows them."""


def sections_for(role: str) -> list[Section]:
    return [section for section in SECTIONS if role in section.roles]


def render(role: str, page: str) -> str:
    """The `<nav>` of the sections `role` may open; empty when there is only one (or none), since
    a bar with a single link to the page one is on helps nobody."""
    visible = sections_for(role)
    if len(visible) < 2:
        return ""
    links = []
    for section in visible:
        current = ' aria-current="page"' if section.page == page else ""
        href = html.escape(section.path, quote=True)
        links.append(f'<a href="{href}"{current}>{html.escape(section.label)}</a>')
    return f'<nav class="console-nav" aria-label="工作台导航">{"".join(links)}</nav>'
