"""The documented header set: for each kind of file, its fields, the column titles that name
each (Chinese as billing systems and Excel templates write them, and English), and which are
required. docs/import.md is the same table for people; tests/unit/test_import_parsing.py keeps
the two in step.

A title is compared after normalising: full-width to half-width, case, spaces, a required-mark
"*" and a unit in brackets dropped, so "电量（kWh）", "户号*" and " Account_No " all match.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from store.models import ImportKind


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    """How reasons name it (Chinese)."""
    titles: tuple[str, ...]
    required: bool = False


def _c(field: str, label: str, titles: str, required: bool = False) -> Column:
    return Column(field, label, tuple(dict.fromkeys((field, *titles.split()))), required)


ACCOUNT_NO = _c("account_no", "户号", "户号 用户编号 用户号 客户编号 户编号 account", True)
METER_TITLES = "表号 电能表编号 电表编号 表计编号 电表条码 电表号 meter"
"""An account's meter number: optional in an accounts file, required in a meters file."""
PREPAID = _c("prepaid", "预付费", "预付费 是否预付费 费控 是否费控 prepaid")

COLUMNS: dict[str, tuple[Column, ...]] = {
    ImportKind.AREAS: (
        _c("code", "区域编码", "编码 区域编码 台区编号 台区编码 供电区域编码 code", True),
        _c("name", "区域名称", "名称 区域名称 台区名称 供电区域名称 供电区域 台区 name", True),
        _c("name_en", "英文名称", "英文名称 英文名 name_en english"),
        _c("kind", "区域类型", "类型 区域类型 地区类型 区域性质 kind type"),
        _c("aliases", "别名", "别名 俗称 其他名称 aliases"),
    ),
    ImportKind.ACCOUNTS: (
        ACCOUNT_NO,
        _c("holder_name", "户名", "户名 用户名称 客户名称 用户名 姓名 holder", True),
        _c("phone", "电话", "电话 联系电话 手机 手机号 手机号码 联系方式 phone mobile", True),
        _c("address", "地址", "地址 用电地址 用户地址 address", True),
        _c("area", "台区", "台区 供电区域 台区编号 台区名称 所属台区 区域 area area_code", True),
        _c("meter_no", "表号", METER_TITLES),
        _c("category", "用电类别", "用电类别 用户类别 用电性质 category"),
        _c("household_size", "家庭人口", "家庭人口 人口数 家庭人数 household"),
        PREPAID,
        _c("balance", "余额", "余额 账户余额 预存余额 balance"),
        _c("supply_status", "供电状态", "供电状态 用电状态"),
        _c("id_card_on_file", "身份证已存档", "身份证已存档 身份证存档 id_card"),
        _c("property_proof_on_file", "产权证明已存档", "产权证明已存档 产权证明存档"),
    ),
    ImportKind.METERS: (
        ACCOUNT_NO,
        _c("meter_no", "表号", METER_TITLES, True),
        PREPAID,
    ),
    ImportKind.BILLS: (
        ACCOUNT_NO,
        _c("period", "账期", "账期 电费年月 年月 抄表年月 结算年月 period", True),
        _c(
            "last_reading",
            "上次示数",
            "上次示数 上月示数 起码 上次读数 上期示数 last_reading",
            True,
        ),
        _c(
            "this_reading",
            "本次示数",
            "本次示数 本月示数 止码 本次读数 本期示数 this_reading",
            True,
        ),
        _c("multiplier", "倍率", "倍率 综合倍率 multiplier"),
        _c("kwh", "电量", "电量 结算电量 用电量 抄见电量 本期电量 kwh"),
        _c("tier1_kwh", "一档电量", "一档电量 第一档电量 一阶电量 一档 tier1"),
        _c("tier2_kwh", "二档电量", "二档电量 第二档电量 二阶电量 二档 tier2"),
        _c("tier3_kwh", "三档电量", "三档电量 第三档电量 三阶电量 三档 tier3"),
        _c("ytd_kwh_before", "期初年累计电量", "期初年累计电量 上期年累计电量 本期前年累计电量"),
        _c("peak_kwh", "峰电量", "峰电量 峰段电量 峰时电量 peak"),
        _c("valley_kwh", "谷电量", "谷电量 谷段电量 谷时电量 valley"),
        _c("energy_amount", "电费", "电费 电度电费 电费金额 energy_amount", True),
        _c("late_fee", "违约金", "违约金 滞纳金 late_fee"),
        _c("adjustment", "调整金额", "调整金额 退补电费 调整 adjustment"),
        _c("total", "应收金额", "应收金额 应缴金额 应交电费 合计 总金额 total"),
        _c("estimated_reading", "估抄", "估抄 是否估抄 estimated"),
        _c("paid", "已缴费", "已缴费 是否已缴 缴费状态 是否缴费 paid"),
        _c("paid_at", "缴费时间", "缴费时间 缴费日期 paid_at"),
        _c("due_date", "缴费截止日期", "缴费截止日期 截止日期 到期日 due_date"),
    ),
}
"""Every kind's columns, in the order docs/import.md lists them."""

_BRACKETS = re.compile(r"[(\[【].*?[)\]】]")


def title_key(title: str) -> str:
    """A column title reduced to what identifies it."""
    value = unicodedata.normalize("NFKC", title).lower()
    value = _BRACKETS.sub("", value) or value
    return "".join(ch for ch in value if ch.isalnum() or ch == "_")


def title_index(kind: str) -> dict[str, Column]:
    """Normalised title → its column, for one kind."""
    index: dict[str, Column] = {}
    for column in COLUMNS[kind]:
        for title in column.titles:
            index.setdefault(title_key(title), column)
    return index
