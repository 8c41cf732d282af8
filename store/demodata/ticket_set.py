"""Which demo tickets exist: every type, open and closed, some overdue, plus the stories of
the fixed demo accounts (陈志强's repair in progress and his earlier, closed one)."""

from __future__ import annotations

from datetime import datetime, timedelta

from store.demodata.outages import DemoOutages
from store.demodata.tickets import CREWS, Step, TicketMaker, fault_path
from store.models import Account, SupplyStatus

H = 60  # minutes in an hour
D = 24 * H

COMPLAINTS = (
    "抢修人员态度差，说话不耐烦",
    "营业厅排队太久，窗口只开一个",
    "停电没有提前通知，冰箱里的东西坏了",
    "报修后三个小时才来人",
    "电费多收了，打电话没人管",
    "抄表员没有上门，估抄电费不准",
)


def _days(maker: TicketMaker, days: float) -> datetime:
    return maker.now - timedelta(days=days, minutes=maker.rng.randint(0, 600))


def _faults(maker: TicketMaker, demo: dict[str, Account], outages: DemoOutages) -> None:
    rng, now = maker.rng, maker.now
    arrival = maker.settings.commitments.arrival_minutes
    for _ in range(24):
        account = maker.account()
        created = _days(maker, rng.uniform(2, 90))
        path = fault_path(rng, arrival(account.area.kind), late=rng.random() < 0.15)
        if rng.random() < 0.12:
            crew = rng.choice(CREWS)
            path = [
                ("dispatched", 8, "值班调度", None),
                ("accepted", 5, crew, None),
                ("on_site", 50, crew, None),
                ("customer_side", 15, crew, "户内漏电保护器损坏，已告知客户请电工更换"),
                ("closed", 2 * H, "客服回访组", None),
            ]
        elif rng.random() < 0.08:
            path = [("cancelled", 25, "值班调度", "客户来电告知已自行恢复（空开复位）")]
        maker.fault(account, created, path)
    for past in outages.past:
        for minutes in (25, 50, 95):
            area = past.outage.area.name
            maker.fault(maker.account(area), past.outage.starts_at + timedelta(minutes=minutes), [])
        maker.restore(past)
    chen = demo["3301000005"]
    maker.fault(chen, _days(maker, 40), fault_path(rng, arrival(chen.area.kind)))
    crew = "东片抢修组"
    maker.fault(
        chen,
        now - timedelta(minutes=75),
        [
            ("dispatched", 6, "值班调度", None),
            ("accepted", 4, crew, None),
            ("on_site", 45, crew, "正在检查表箱和进户线"),
        ],
    )
    # open repairs in every state; the remote one is past its arrival commitment
    open_faults: list[tuple[str, int, list[Step]]] = [
        ("东山村", 20, []),
        ("柳湾村", 40, [("dispatched", 8, "值班调度", None)]),
        (
            "云雾村",
            3 * H,
            [
                ("dispatched", 10, "值班调度", None),
                ("accepted", 15, "山区抢修组", "路远，正在赶往"),
            ],
        ),
        (
            "杨家村",
            150,
            [
                ("dispatched", 5, "值班调度", None),
                ("accepted", 5, "西片抢修组", None),
                ("on_site", 70, "西片抢修组", None),
                ("repairing", 10, "西片抢修组", "低压线路断线，正在接续"),
            ],
        ),
        ("新街社区", 5 * H, fault_path(rng, arrival("urban"))[:5]),
    ]
    for area, minutes_ago, steps in open_faults:
        maker.fault(maker.account(area), now - timedelta(minutes=minutes_ago), steps)
    for minutes_ago in (60, 45, 20):  # attached to the outage in 西河村
        maker.fault(maker.account("西河村"), now - timedelta(minutes=minutes_ago), [])


def _complaints(maker: TicketMaker) -> None:
    staff = "客服专员"
    flow: list[Step] = [
        ("assigned", 2 * H, "值班长", None),
        ("contacted", 10 * H, staff, "已电话联系客户，了解诉求"),
        ("investigating", 4 * H, staff, None),
        ("replied", 2 * D, staff, "已向客户答复处理结果"),
        ("callback", D, "客服回访组", None),
        ("closed", 2 * H, "客服回访组", "客户满意"),
    ]
    for index, days in enumerate((1.3, 0.4, 2, 4, 6, 8)):
        account = maker.account()
        maker.other(
            "complaint",
            _days(maker, days),
            maker.rng.choice(COMPLAINTS),
            flow[:index],
            account=account,
        )
    for days in (20, 50):
        maker.other(
            "complaint",
            _days(maker, days),
            maker.rng.choice(COMPLAINTS),
            flow,
            account=maker.account(),
        )
    escalation = [*flow[:2], ("escalated", 6 * H, "客服专员", "客户对处理不满意，升级至所长")]
    maker.other("complaint", _days(maker, 3), COMPLAINTS[4], escalation, account=maker.account())


def _simple(
    maker: TicketMaker, type: str, texts: tuple[str, str, str], *, anonymous: bool = False
) -> None:
    """One received, one in progress (often overdue by now), one closed."""
    received, processing, closed = texts
    start: Step = ("processing", 3 * H, "营业班", None)
    histories: tuple[tuple[float, str, list[Step]], ...] = (
        (0.8, received, []),
        (9, processing, [start]),
        (30, closed, [start, ("closed", 3 * D, "营业班", "已处理完毕")]),
    )
    for days, text, steps in histories:
        account = None if anonymous else maker.account()
        area = maker.rng.choice(maker.pool).area if anonymous else None
        maker.other(
            type, _days(maker, days), text, steps, account=account, area=area, anonymous=anonymous
        )


def build_tickets(maker: TicketMaker, demo: dict[str, Account], outages: DemoOutages) -> None:
    """Schedule every demo ticket, then create them in time order."""
    _faults(maker, demo, outages)
    _complaints(maker)
    hazards = ("电线杆倾斜，电线垂得很低", "变压器旁边树枝碰到电线冒火花")
    made_safe: list[Step] = [
        ("dispatched", 5, "值班调度", None),
        ("on_site", 40, "抢修一班", None),
        ("made_safe", 60, "抢修一班", "已处置，隐患消除"),
        ("closed", 2 * H, "值班调度", None),
    ]
    for days, text in zip((25, 60), hazards, strict=True):
        maker.other("hazard", _days(maker, days), text, made_safe, account=maker.account())
    shiqiao = maker.account("石桥村").area
    maker.other("hazard", maker.now - timedelta(minutes=15), "路边电线掉在地上", [], area=shiqiao)
    _simple(
        maker,
        "meter_test",
        ("电表走得太快，申请校验", "怀疑电表不准，用电没变电费翻倍", "申请校验电表"),
    )
    _simple(
        maker,
        "violation",
        ("有人私拉电线", "隔壁厂房晚上偷电", "有人绕过电表用电"),
        anonymous=True,
    )
    _simple(
        maker,
        "suggestion",
        ("停电通知能不能发短信", "营业厅周末也开门吧", "网上国网能不能加方言语音"),
    )
    _simple(
        maker, "praise", ("抢修师傅半夜冒雨来修，太负责了", "营业厅小王服务热情", "抄表员很细心")
    )
    _simple(maker, "bill_check", ("这个月电费比上个月高一倍", "电费账单读数不对", "估抄电费太多"))
    _simple(maker, "callback", ("请尽快回电，关于过户的问题", "请回电说明停电时间", "回电咨询电价"))
    paid = maker.account(settled=True)
    paid.supply_status = SupplyStatus.DISCONNECTED  # arrears just paid; reconnection in progress
    maker.other(
        "reconnect",
        maker.now - timedelta(hours=5),
        "已交清欠费，请求恢复供电",
        [("processing", 40, "营业班", "已确认缴费，安排复电")],
        account=paid,
    )
    maker.other(
        "reconnect",
        _days(maker, 30),
        "交了钱还没电",
        [("processing", 30, "营业班", None), ("closed", 6 * H, "抢修二班", "已复电")],
        account=maker.account(),
    )
    maker.plan.run()
