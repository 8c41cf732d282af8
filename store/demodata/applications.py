"""Demo applications: one at every stage (side stages and withdrawal included) of every type
and voltage, walked there through the real service so stage order and deadlines are the
production ones. Stage durations scatter around their limits: some open ones are overdue."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from store.config import ApplicationType, Settings
from store.demodata.people import PeopleFactory
from store.models import Account, AccountCategory, Application, ApplicationStage, Voltage
from store.services import applications
from store.stages import CANCELLED, waits_on_customer

COMPANIES = (
    "青溪镇绿源茶业合作社",
    "安平县竹韵家具厂",
    "青溪镇光伏扶贫电站",
    "云雾山居民宿",
    "南塘水产养殖场",
    "青溪镇中心小学",
    "高岭矿泉水厂",
    "西河粮食烘干中心",
)
ACTORS = {"received": "营业班", "metering_install": "装表班", "energized": "装表班"}


def path_to(config: ApplicationType, voltage: str, target: str) -> list[str] | None:
    """Stages after 'received' that lead to `target`; None if unreachable at this voltage."""
    codes = [s.code for s in config.stages_for(voltage)]
    if target == CANCELLED:
        return [CANCELLED]
    if target in config.side_stages:
        origin = next((c for c in codes if c in config.side_stages[target]), None)
        return None if origin is None else [*codes[1 : codes.index(origin) + 1], target]
    return codes[1 : codes.index(target) + 1] if target in codes else None


def _hours(rng: random.Random, config: ApplicationType, stage: str) -> float:
    spec = config.stage(stage)
    if waits_on_customer(config, stage):
        return rng.uniform(3, 12) * 24
    if spec is not None and spec.working_days:
        return spec.working_days * 24 * 1.4 * rng.uniform(0.5, 1.1)
    return rng.uniform(4, 30)


class ApplicationMaker:
    def __init__(
        self,
        session: Session,
        settings: Settings,
        rng: random.Random,
        now: datetime,
        pool: list[Account],
        people: PeopleFactory,
    ) -> None:
        self.session, self.settings, self.rng, self.now = session, settings, rng, now
        self.pool = list(pool)
        self.people = people
        self.actions: list[tuple[datetime, int, Callable[[], None]]] = []

    def _account(self, category: str) -> Account:
        candidates = [a for a in self.pool if a.category == category] or self.pool
        account = self.rng.choice(candidates)
        self.pool.remove(account)
        return account

    def schedule(self, app_type: str, voltage: str, target: str, index: int) -> None:
        config = self.settings.applications.types[app_type]
        path = path_to(config, voltage, target)
        if path is None:
            return
        rng = self.rng
        stays = [_hours(rng, config, s) for s in [ApplicationStage.RECEIVED, *path]]
        stays[-1] *= rng.uniform(0.3, 1.5)  # the current stage: some are overdue by now
        if target in (CANCELLED, config.final_stage):
            stays[-1] = rng.uniform(24, 400)
        created = self.now - timedelta(hours=sum(stays))
        times = [created + timedelta(hours=sum(stays[: k + 1])) for k in range(len(path))]
        account, applicant, category = self._who(app_type, voltage)
        business = None
        if app_type == "other_change":
            types = self.settings.applications.business_types
            business = types[index % len(types)].code

        def action() -> None:
            app = self._start(app_type, voltage, created, account, applicant, category, business)
            for stage, at in zip(path, times, strict=True):
                self._advance(config, app, stage, at)

        self.actions.append((created, len(self.actions), action))

    def _who(self, app_type: str, voltage: str) -> tuple[Account | None, str, str]:
        if app_type == "new_connection":
            if voltage == Voltage.HIGH:
                return None, self.rng.choice(COMPANIES), AccountCategory.NON_RESIDENTIAL
            return None, self.people.person().name, AccountCategory.RESIDENTIAL
        residential = voltage != Voltage.HIGH
        category = AccountCategory.RESIDENTIAL if residential else AccountCategory.NON_RESIDENTIAL
        account = self._account(category)
        applicant = (
            self.people.person().name if app_type == "name_transfer" else account.holder_name
        )
        return account, applicant, account.category

    def _start(
        self,
        app_type: str,
        voltage: str,
        created: datetime,
        account: Account | None,
        applicant: str,
        category: str,
        business: str | None,
    ) -> Application:
        online = self.rng.random() < 0.5
        area = account.area if account else self.rng.choice(self.pool).area
        return applications.start(
            self.session,
            self.settings,
            app_type=app_type,
            now=created,
            business_type=business,
            account=account,
            applicant_name=applicant,
            contact_phone=account.phone if account else self.people.person().phone,
            address=account.address if account else f"{self.people.address(area)}（新建）",
            area=area,
            sender_id=f"demo-app-{len(self.actions):04d}" if online else None,
            channel="rest" if online else "hall",
            voltage=voltage,
            dual_supply=voltage == Voltage.HIGH and self.rng.random() < 0.2,
            category=category,
        )

    def _advance(self, config: ApplicationType, app: Application, stage: str, at: datetime) -> None:
        required = [d.code for d in config.documents_for(app.voltage)]
        if stage == "need_more_docs":
            app.documents_received = [c for c in required if c != "property_proof"][:-1]
        elif app.stage in (ApplicationStage.RECEIVED, "reviewing", "need_more_docs"):
            app.documents_received = required
        note = "缺少产权证明" if stage == "need_more_docs" else None
        if stage == "rectification_required":
            note = "接地电阻不合格，请整改"
        actor = ACTORS.get(stage, "客户经理")
        applications.advance(
            self.session, self.settings, app, stage, actor=actor, now=at, note=note
        )

    def run(self) -> None:
        for _, _, action in sorted(self.actions, key=lambda item: (item[0], item[1])):
            action()


def build_applications(maker: ApplicationMaker, zhao: Account) -> None:
    """Every stage of every type; plus 赵敏's new connection (property proof still missing)."""
    settings = maker.settings
    for app_type, config in settings.applications.types.items():
        both = any(len(s.voltages) == 1 for s in config.stages)
        voltages = (Voltage.LOW, Voltage.HIGH) if both else (Voltage.LOW,)
        for voltage in voltages:
            targets = [s.code for s in config.stages_for(voltage)]
            targets += (
                [*config.side_stages, CANCELLED]
                if voltage == Voltage.LOW
                else list(config.side_stages)
            )
            for index, target in enumerate(targets):
                maker.schedule(app_type, voltage, target, index)
    created = maker.now - timedelta(hours=26)

    def zhao_applies() -> None:
        applications.start(
            maker.session,
            settings,
            app_type="new_connection",
            now=created,
            account=zhao,
            applicant_name=zhao.holder_name,
            contact_phone=zhao.phone,
            address="西河村2组（新建住房）",
            area=zhao.area,
            channel="hall",
        )

    maker.actions.append((created, len(maker.actions), zhao_applies))
    maker.run()
