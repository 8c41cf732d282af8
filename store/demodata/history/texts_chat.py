"""What the history's conversations say (made up): customers' turns with the intent NLU found,
and the bot's, agents' and gateway's answers. {placeholders} are filled per conversation.

A turn is (intent, customer's words, bot's answer). Texts in HARD are ones the model
misunderstands: they land in the NLU inbox (fallback or low confidence), written without
punctuation or digits so their inbox group key is the text itself.
"""

from __future__ import annotations

from typing import Final

Turn = tuple[str, str, str]

#: conversations that need no ticket: each a sequence of turns, several wordings each
STANDALONE: Final[dict[str, tuple[tuple[Turn, ...], ...]]] = {
    "query_bill": (
        (
            ("query_bill", "查下上个月电费", "查询电费需要先核实身份，请告诉我您的户号。"),
            ("inform", "{account_no}", "请输入户号登记手机号码的后4位。"),
            ("inform", "{last4}", "验证通过。您上个月用电{kwh}度，电费{amount}元。"),
        ),
        (
            ("query_bill", "我家这个月电费多少", "查询电费需要先核实身份，请告诉我您的户号。"),
            ("inform", "户号{account_no}", "请输入户号登记手机号码的后4位。"),
            ("inform", "{last4}", "验证通过。您本期电费{amount}元，缴费截止日为本月25日。"),
        ),
    ),
    "bill_dispute": (
        (
            (
                "bill_dispute",
                "这个月电费咋这么高",
                "电费偏高常见原因有：进入第二档电价、季节性用电增加、估抄后结算。需要我帮您申请电费核查吗？",
            ),
            ("affirm", "要", "已为您登记电费核查，工作人员会在5个工作日内回复您。"),
        ),
    ),
    "ask_tariff": (
        (
            (
                "ask_tariff",
                "阶梯电价咋算",
                "居民阶梯电价按全年累计用电量分三档，用得越多，超出部分的电价越高。",
            ),
        ),
        (
            (
                "ask_tariff",
                "峰谷电价是多少",
                "峰谷电价白天略高、夜间便宜，可以在营业厅或网上国网申请。",
            ),
        ),
    ),
    "pay_bill": (
        (
            (
                "pay_bill",
                "微信能交电费不",
                "可以。微信搜索“国网浙江电力”公众号或“生活缴费”，输入户号即可缴费。",
            ),
        ),
        (("pay_bill", "怎么在网上交电费", "可以用网上国网App、微信或支付宝缴费，输入户号即可。"),),
    ),
    "ask_service_info": (
        (
            (
                "ask_service_info",
                "供电所几点上班",
                "{hours}",
            ),
        ),
        (("ask_service_info", "营业厅在哪里", "营业厅地址：{hall}。"),),
    ),
    "query_outage_info": (
        (("query_outage_info", "明天我们{area}停不停电", "{area}近7天没有计划停电。"),),
        (
            (
                "query_outage_info",
                "{area}什么时候来电",
                "{area}目前没有已知停电。如果您家没电，我可以帮您报修。",
            ),
        ),
    ),
    "track_repair": (
        (
            (
                "track_repair",
                "报修两小时了咋还没人来",
                "抢修人员已出发，正在赶往现场，请保持电话畅通。",
            ),
        ),
    ),
    "track_application": (
        (
            ("track_application", "报装到哪一步了", "请告诉我申请单号（A开头），或先核实户号。"),
            ("inform", "我忘了单号", "可以先核实户号，我帮您查名下的申请。"),
        ),
    ),
    "greet": (
        (
            ("greet", "你好", "您好，我是青溪镇供电所智能客服，请问有什么可以帮您？"),
            ("goodbye", "没事了", "好的，祝您生活愉快，再见！"),
        ),
    ),
}
STANDALONE_WEIGHTS: Final = {
    "query_bill": 22, "bill_dispute": 8, "ask_tariff": 9, "pay_bill": 9, "ask_service_info": 10,
    "query_outage_info": 12, "track_repair": 6, "track_application": 4, "greet": 6,
}  # fmt: skip
#: further questions of a long conversation (any of them, after its main business)
EXTRA: Final[tuple[Turn, ...]] = (
    ("ask_service_info", "周六营业厅开门吗", "{hours}"),
    ("pay_bill", "支付宝能交吗", "可以，支付宝首页“生活缴费”→“电费”，输入户号即可。"),
    ("ask_tariff", "第二档是多少钱", "第二档电价比第一档略高，具体可以查看电费账单。"),
    ("thank", "好的谢谢", "不客气，还有其他问题可以随时问我。"),
    ("inform", "那我等等看", "好的，有问题随时找我。"),
    ("query_outage_info", "最近还会停电吗", "您所在区域近7天没有计划停电。"),
)
ENGLISH: Final[tuple[tuple[Turn, ...], ...]] = (
    (
        (
            "greet",
            "hello",
            "Hello, I am the assistant of the Qingxi power supply station. How can I help?",
        ),
        (
            "ask_service_info",
            "when is the service hall open",
            "{hours_en}",
        ),
    ),
    (
        (
            "pay_bill",
            "how can I pay my bill",
            "You can pay in the State Grid Online app, WeChat or Alipay with your account number.",
        ),
    ),
)
#: the customer's words the model misunderstands, with what they meant
HARD: Final[tuple[tuple[str, str], ...]] = (
    ("俺屋里头黑咕隆咚的", "report_fault"),
    ("电老是一闪一闪咋整", "report_fault"),
    ("莫得电了噻", "report_fault"),
    ("冇电啊点算", "report_fault"),
    ("啥辰光来电", "query_outage_info"),
    ("这个月咋扣了这么多钱", "bill_dispute"),
    ("电表转得跟风扇似的", "meter_issue"),
    ("俺家那个表要换个名字", "apply_name_transfer"),
    ("房子卖了电咋弄", "apply_name_transfer"),
    ("交了钱还是黑的", "payment_reconnect"),
    ("帮我充个话费", "out_of_scope"),
    ("燃气费在哪交", "out_of_scope"),
    ("你们领导电话多少", "request_human"),
    ("隔壁老王家线拉到我家来了", "report_violation"),
    ("电工师傅人真好", "give_praise"),
    ("能不能晚上也有人接电话", "give_suggestion"),
    ("tingdian le", "report_fault"),
    ("dianfei duoshao", "query_bill"),
)
FALLBACK_REPLY: Final = "抱歉，我没太明白您的意思。您是想："
FALLBACK_BUTTONS: Final = (
    {"title": "报修", "payload": "/report_fault"},
    {"title": "查电费", "payload": "/query_bill"},
    {"title": "转人工", "payload": "/request_human"},
)
OFFER_HUMAN: Final = "还是没能理解您的问题，需要为您转人工客服吗？"
HUMAN: Final[tuple[Turn, ...]] = (
    ("request_human", "转人工", "好的，正在为您转接人工客服。"),
    ("request_human", "我要找人工客服", "好的，正在为您转接人工客服。"),
    ("request_human", "zhuan rengong", "好的，正在为您转接人工客服。"),
)
AGENT_OPENING: Final = ("您好，我是{agent}，请问有什么可以帮您？", "您好，{agent}为您服务，请讲。")
CUSTOMER_TO_AGENT: Final = (
    "我家电费连着三个月都很高，想问问怎么回事",
    "报修的师傅还没到，能帮忙催一下吗",
    "我想办过户，需要带什么材料",
    "停电通知我没收到，能不能以后发短信",
    "上次投诉的事还没人联系我",
)
AGENT_ANSWERS: Final = (
    "我帮您查一下，请稍等。",
    "已经帮您联系抢修班组，他们正在路上。",
    "过户需要身份证、房产证明、购房合同，原户电费需要结清。",
    "已为您登记，工作人员会尽快联系您。",
    "好的，已记录您的情况，会在24小时内给您答复。",
)
AGENT_CLOSING: Final = ("还有其他问题吗？没有的话我先结束服务了。", "问题已处理，感谢您的耐心。")
CUSTOMER_THANKS: Final = ("好的谢谢", "行，谢谢你", "知道了")
YES: Final = ("好的", "可以", "要")
CUSTOMER_LEAVING: Final = ("不等了", "算了", "太慢了不等了")
RATING_WORDS: Final = {5: "非常满意", 4: "满意", 3: "一般", 2: "不满意", 1: "很差"}
RATING_THANKS: Final = "感谢您的评价（{rating}星）！"
AGENT_NOTES: Final = ("客户情绪激动，已安抚", "已转抢修班组跟进", "客户要求书面答复")
