"""Made-up customers: Chinese names, mobile numbers, addresses by area kind, account flags.

Deterministic for a given `random.Random`; no real person's data is used.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

from store.models import Account, AccountCategory, AreaKind, ServiceArea, SupplyStatus

SURNAMES = (
    "张 王 李 赵 陈 刘 杨 黄 周 吴 徐 孙 胡 朱 高 林 何 郭 马 罗 梁 宋 郑 谢 韩 唐 冯 于 董 程 "
    "曹 袁 邓 许 傅 沈 曾 彭 吕 苏 卢 蒋 蔡 贾 丁 魏 薛 叶 潘 方"
).split()
GIVEN = (
    "建华 秀兰 国强 桂英 志明 丽华 海燕 伟 芳 军 敏 静 磊 洋 勇 艳 杰 娟 涛 明 超 秀珍 玉兰 春梅 "
    "建军 建平 卫东 红梅 小红 晓东 文斌 金凤 德福 有才 淑芬 美玲 家豪 子涵 浩然 雨萱 国庆 爱华 "
    "长生 水根 月娥 凤英 福生 新民 振华 丽君"
).split()
PHONE_PREFIXES = (
    "130 131 132 133 135 136 137 138 139 150 151 152 153 155 156 157 158 159 166 "
    "176 177 180 185 186 187 188 189 191 198 199"
).split()
STREETS = ("幸福路", "青溪街", "人民路", "解放路", "文化路", "新街", "和平路", "建设路")
ESTATES = ("和平小区", "新街小区", "阳光花园", "青溪苑")
SHOPS = ("小卖部", "农资店", "粮油店", "竹制品加工厂", "茶叶加工坊", "农家乐", "修车铺", "养殖场")


@dataclass(frozen=True)
class Person:
    name: str
    phone: str


class PeopleFactory:
    """Hands out unique names-with-phones, account numbers and meter numbers."""

    def __init__(self, rng: random.Random, reserved_phones: set[str]) -> None:
        self.rng = rng
        self.phones = set(reserved_phones)
        self.meters: set[str] = set()
        self.next_account = 100

    def person(self) -> Person:
        name = self.rng.choice(SURNAMES) + self.rng.choice(GIVEN)
        while True:
            phone = self.rng.choice(PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if phone not in self.phones:
                self.phones.add(phone)
                return Person(name, phone)

    def account_no(self) -> str:
        """10 digits, or (one in eight) 13 digits with the province prefix 330."""
        self.next_account += self.rng.randint(1, 7)
        number = f"33010{self.next_account:05d}"
        return "330" + number if self.rng.random() < 0.125 else number

    def meter_no(self) -> str:
        """A 22-digit meter barcode (what customers confuse with the account number)."""
        while True:
            meter = f"3330001{self.rng.randrange(10**15):015d}"
            if meter not in self.meters:
                self.meters.add(meter)
                return meter

    def address(self, area: ServiceArea, shop: bool = False) -> str:
        rng = self.rng
        if area.kind == AreaKind.URBAN:
            if rng.random() < 0.35 and not shop:
                building, unit = rng.randint(1, 12), rng.randint(1, 3)
                room = rng.randint(1, 6) * 100 + rng.randint(1, 2)
                return f"{area.name}{rng.choice(ESTATES)}{building}幢{unit}单元{room}室"
            return f"{area.name}{rng.choice(STREETS)}{rng.randint(1, 199)}号"
        place = f"{area.name}{rng.randint(1, 9)}组{rng.randint(1, 60)}号"
        return f"{place}（{rng.choice(SHOPS)}）" if shop else place


def random_account(factory: PeopleFactory, area: ServiceArea) -> Account:
    """One customer with plausible flags: most households of 2-4, some shops, some prepaid."""
    rng = factory.rng
    person = factory.person()
    shop = rng.random() < 0.08
    return Account(
        account_no=factory.account_no(),
        holder_name=person.name,
        phone=person.phone,
        address=factory.address(area, shop),
        area=area,
        category=AccountCategory.NON_RESIDENTIAL if shop else AccountCategory.RESIDENTIAL,
        household_size=rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 4, 5, 6, 7)),
        prepaid=rng.random() < 0.15,
        balance=Decimal("0.00"),
        supply_status=SupplyStatus.NORMAL,
        id_card_on_file=rng.random() < 0.7,
        property_proof_on_file=rng.random() < 0.5,
        meter_no=factory.meter_no(),
    )
