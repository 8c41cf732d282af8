"""What the history's work orders say: customers' reports and the staff's notes (made up).

Grouped by kind and category, so the figures broken down by fault type, complaint category or
suggestion theme have something to find: each text holds the words conf/quality.yml
`categories` sorts it by (the first category whose words appear wins). The conversations'
words are in texts_chat.py.
"""

from __future__ import annotations

from typing import Final

#: fault kind → what customers report
FAULTS: Final[dict[str, tuple[str, ...]]] = {
    "停电": (
        "家里突然停电了，邻居家也没电",
        "整个组都停电了",
        "停电一个多小时了，冰箱里东西要坏了",
        "晚上突然没电了，总闸没跳",
    ),
    "跳闸": (
        "空开老跳闸，合上又跳",
        "总闸跳闸了合不上去",
        "一开空调就跳闸",
    ),
    "电压异常": (
        "电压太低，空调开不起来",
        "灯一闪一闪的，电压不稳",
        "电压忽高忽低，烧了个电饭煲",
    ),
    "线路损坏": (
        "门口的电线断了",
        "进户电线被树压断了",
        "电线杆歪了，线垂得很低",
    ),
    "表箱故障": (
        "表箱冒烟了，有焦味",
        "电表箱里啪的一声响",
        "电表不走了，屏幕也不亮",
    ),
}
#: fault kind → what the crew found (the note of its repair step)
CAUSES: Final[dict[str, tuple[str, ...]]] = {
    "停电": ("低压线路断线", "熔丝熔断", "接户线接头松脱"),
    "跳闸": ("户内漏电，已指导客户处理", "空开老化，已更换", "三相负荷不平衡，已调整"),
    "电压异常": ("配变低压侧接头氧化，已处理", "零线断线，已接续", "线路过长末端电压低，已调档"),
    "线路损坏": ("接户线被树枝压断，已更换", "低压线路断线，已接续", "电杆倾斜，已扶正加固"),
    "表箱故障": ("表箱进线烧断，已更换", "表前开关烧毁，已更换", "电表烧坏，已换表"),
}
REPEAT_FAULT: Final = (
    "上次修好没几天又停电了",
    "又停电了，跟上次一样",
    "同样的问题又出现了，又没电了",
)
CUSTOMER_SIDE: Final = (
    "户内漏电保护器损坏，已告知客户请电工更换",
    "户内线路短路，属客户产权，已指导客户处理",
)
CANCELLED: Final = ("客户来电告知已自行恢复（空开复位）", "客户称已来电，无需抢修")
HAZARDS: Final = (
    "电线杆倾斜，电线垂得很低",
    "变压器旁边树枝碰到电线冒火花",
    "路边电线掉在地上",
    "表箱门坏了，电线露在外面",
    "电线被风刮得直晃，快断了",
)
MADE_SAFE: Final = ("已处置，隐患消除", "已修剪树枝，隐患消除", "已更换表箱门并加锁")

#: complaint category → what the customer complains about
COMPLAINTS: Final[dict[str, tuple[str, ...]]] = {
    "抢修时效": ("报修后三个小时才来人", "抢修太慢了，等了半天没人来", "报修两次都没人来"),
    "服务态度": (
        "工作人员态度差，说话不耐烦",
        "营业厅工作人员态度不好",
        "打电话去问，接电话的人很凶",
    ),
    "停电通知": ("停电没有提前通知，冰箱里的东西坏了", "计划停电通知太晚，来不及准备"),
    "电费争议": ("电费多收了，打电话没人管", "抄表员没有上门，估抄电费不准"),
    "业务办理": ("报装快一个月了还没装表", "过户手续太麻烦，跑了好几趟"),
    "在线客服": ("在线转人工等了半个小时，客服不理人", "客服一直让排队，问题推诿不解决"),
}
STORM_COMPLAINTS: Final = (
    "暴雨停电一整天了，抢修到现在还没来",
    "打雷停电十几个小时，电话一直打不通",
)
CONTACT_NOTES: Final = (
    "已电话联系客户，了解诉求",
    "已联系客户，客户说明了情况",
    "已上门与客户沟通",
)
REPLIES: Final[dict[str, str]] = {
    "抢修时效": "经核实，当日抢修任务集中导致到达延迟，已向客户致歉并加强抢修力量调配",
    "服务态度": "已对相关人员进行批评教育，向客户致歉",
    "停电通知": "已核实通知情况，今后计划停电提前7天短信通知",
    "电费争议": "已核对抄表数据，多收部分下月退还",
    "业务办理": "已协调装表班优先安排，告知客户办理进度",
    "在线客服": "已向客户致歉，正在增加在线客服人手",
}
ESCALATIONS: Final = (
    "客户再次来电，对处理进度不满意",
    "我都投诉第二次了，再不处理我就打12398",
    "客户表示要向12398能源监管热线投诉",
)

#: suggestion theme → what the customer suggests
SUGGESTIONS: Final[dict[str, tuple[str, ...]]] = {
    "停电通知": ("停电通知能不能发短信", "计划停电能不能早点在村里贴通知"),
    "营业时间": ("营业厅周末也开门吧", "营业厅中午能不能不休息"),
    "线上办理": ("网上国网能不能加方言语音", "报装能不能全程网上办"),
    "缴费方式": ("希望支持微信自动缴费", "能不能在村委会设个交费点"),
}
#: praise theme → what the customer praises
PRAISE: Final[dict[str, tuple[str, ...]]] = {
    "抢修": ("抢修师傅半夜冒雨来修，太负责了", "抢修很及时，半小时就来电了"),
    "营业厅": ("营业厅小王服务热情", "营业厅办事效率高，一次就办好了"),
    "在线客服": ("在线客服很专业，问题一下就解决了", "在线客服回复迅速，点赞"),
}
CASE_REPLIES: Final = ("感谢您的宝贵意见，我们会认真研究改进", "感谢您的表扬，已转达相关班组")
VIOLATIONS: Final = ("有人私拉电线", "隔壁厂房晚上偷电", "有人绕过电表用电")
VIOLATION_RESULTS: Final = ("已现场核查，确有私拉乱接，已依法处理", "经核查未发现违约用电")
#: other work orders: (type, what the customer asks, how it ended)
SIMPLE: Final[tuple[tuple[str, str, str], ...]] = (
    ("meter_test", "电表走得太快，申请校验", "校验合格，误差在允许范围内"),
    ("meter_test", "怀疑电表不准，用电没变电费翻倍", "校验超差，已换表并退还多收电费"),
    ("bill_check", "这个月电费比上个月高一倍", "已核对，属季节性用电增加"),
    ("bill_check", "电费账单读数不对", "抄表差错，已更正账单"),
    ("reconnect", "已交清欠费，请求恢复供电", "已复电"),
)
