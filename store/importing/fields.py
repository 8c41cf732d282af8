"""Each field's cell parser, and the checks across fields of one row (a bill's readings and
kWh, its tier split). Nothing here reads the database: references (an account's area, a bill's
account) are checked by the kinds' own modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from store.importing import cells
from store.importing.errors import CellError
from store.models import AccountCategory, AreaKind, SupplyStatus


@dataclass(frozen=True)
class Context:
    tz: ZoneInfo
    max_cell_chars: int


Parser = Callable[[str, Context], Any]
_ALIAS_SPLIT = re.compile(r"[、,;|/\s]+")


def _choice(name: str, table: dict[str, str]) -> Parser:
    def parse(text: str, _ctx: Context) -> str:
        value = cells.clean(text).lower()
        if value not in table:
            allowed = "、".join(k for k in table if not k.isascii())
            raise CellError(f"{name}“{text}”无法识别，应为：{allowed}", "bad_choice")
        return table[value]

    return parse


CATEGORY = _choice(
    "用电类别",
    {
        "居民": AccountCategory.RESIDENTIAL,
        "居民生活": AccountCategory.RESIDENTIAL,
        "居民生活用电": AccountCategory.RESIDENTIAL,
        "非居民": AccountCategory.NON_RESIDENTIAL,
        "一般工商业": AccountCategory.NON_RESIDENTIAL,
        "工商业": AccountCategory.NON_RESIDENTIAL,
        "商业": AccountCategory.NON_RESIDENTIAL,
        "工业": AccountCategory.NON_RESIDENTIAL,
        "农业生产": AccountCategory.NON_RESIDENTIAL,
        "residential": AccountCategory.RESIDENTIAL,
        "non_residential": AccountCategory.NON_RESIDENTIAL,
    },
)
SUPPLY = _choice(
    "供电状态",
    {
        "正常": SupplyStatus.NORMAL,
        "正常供电": SupplyStatus.NORMAL,
        "停电": SupplyStatus.DISCONNECTED,
        "已停电": SupplyStatus.DISCONNECTED,
        "欠费停电": SupplyStatus.DISCONNECTED,
        "normal": SupplyStatus.NORMAL,
        "disconnected": SupplyStatus.DISCONNECTED,
    },
)
AREA_KIND = _choice(
    "区域类型",
    {
        "城镇": AreaKind.URBAN,
        "城市": AreaKind.URBAN,
        "城区": AreaKind.URBAN,
        "农村": AreaKind.RURAL,
        "乡村": AreaKind.RURAL,
        "偏远": AreaKind.REMOTE,
        "边远": AreaKind.REMOTE,
        "山区": AreaKind.REMOTE,
        "urban": AreaKind.URBAN,
        "rural": AreaKind.RURAL,
        "remote": AreaKind.REMOTE,
    },
)


def _text(limit: int | None = None) -> Parser:
    def parse(value: str, ctx: Context) -> str:
        return cells.text(value, limit=min(limit or ctx.max_cell_chars, ctx.max_cell_chars))

    return parse


def _code(value: str, _ctx: Context) -> str:
    code = cells.clean(value).upper()
    if " " in code or len(code) > 16:
        raise CellError(f"区域编码“{value}”应为不超过 16 位、不含空格的编码", "bad_code")
    return code


def _aliases(value: str, ctx: Context) -> list[str]:
    names = [cells.text(p, limit=64) for p in _ALIAS_SPLIT.split(cells.clean(value)) if p]
    if sum(map(len, names)) > ctx.max_cell_chars:
        raise CellError("别名过多", "too_long")
    return list(dict.fromkeys(names))


def _household(value: str, _ctx: Context) -> int:
    size = cells.integer(value, minimum=1)
    if size > 50:
        raise CellError(f"家庭人口“{value}”不合理（1 至 50）", "out_of_range")
    return size


def _int(minimum: int = 0) -> Parser:
    return lambda value, _ctx: cells.integer(value, minimum=minimum)


def _flag(value: str, _ctx: Context) -> bool:
    return cells.flag(value)


PARSERS: dict[str, Parser] = {
    "code": _code,
    "name": _text(64),
    "name_en": _text(128),
    "kind": AREA_KIND,
    "aliases": _aliases,
    "account_no": lambda v, _c: cells.account_no(v),
    "holder_name": _text(64),
    "phone": lambda v, _c: cells.phone(v),
    "address": _text(),
    "area": _text(64),
    "meter_no": lambda v, _c: cells.meter_no(v),
    "category": CATEGORY,
    "household_size": _household,
    "prepaid": _flag,
    "balance": lambda v, _c: cells.money(v, signed=True),
    "supply_status": SUPPLY,
    "id_card_on_file": _flag,
    "property_proof_on_file": _flag,
    "period": lambda v, _c: cells.period(v),
    "last_reading": _int(),
    "this_reading": _int(),
    "multiplier": _int(1),
    "kwh": _int(),
    "tier1_kwh": _int(),
    "tier2_kwh": _int(),
    "tier3_kwh": _int(),
    "ytd_kwh_before": _int(),
    "peak_kwh": _int(),
    "valley_kwh": _int(),
    "energy_amount": lambda v, _c: cells.money(v),
    "late_fee": lambda v, _c: cells.money(v),
    "adjustment": lambda v, _c: cells.money(v, signed=True),
    "total": lambda v, _c: cells.money(v, signed=True),
    "estimated_reading": _flag,
    "paid": _flag,
    "paid_at": lambda v, ctx: cells.instant(v, ctx.tz),
    "due_date": lambda v, _c: cells.day(v),
}


def bill_checks(values: dict[str, Any]) -> list[str]:
    """A bill's fields against each other (kWh derived here when the file has none)."""
    reasons = []
    last, this = values["last_reading"], values["this_reading"]
    multiplier = values.setdefault("multiplier", 1)
    if this < last:
        return [f"本次示数 {this} 小于上次示数 {last}"]
    usage = (this - last) * multiplier
    kwh = values.setdefault("kwh", usage)
    if kwh != usage:
        reasons.append(f"电量 {kwh} 与示数不符：（{this} − {last}）× {multiplier} = {usage}")
    tiers = [values.get(f"tier{n}_kwh") for n in (1, 2, 3)]
    if any(t is not None for t in tiers):
        if None in tiers:
            reasons.append("一档、二档、三档电量应同时填写（或都不填，由系统按阶梯计算）")
        elif sum(t or 0 for t in tiers) != kwh:
            reasons.append(f"一、二、三档电量之和 {sum(t or 0 for t in tiers)} 不等于电量 {kwh}")
    if (values.get("peak_kwh") or 0) + (values.get("valley_kwh") or 0) > kwh:
        reasons.append("峰、谷电量之和大于电量")
    if values.get("paid_at") is not None and values.get("paid") is False:
        reasons.append("填写了缴费时间，但缴费状态为未缴")
    return reasons
