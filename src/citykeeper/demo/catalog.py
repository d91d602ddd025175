"""What the demo's cases are about: weighted categories, their units and the words people use.

Weights follow what dominates real 数字城管 statistics (exposed garbage, small ads,
street vending, manhole covers, road damage); the numbers are illustrative.
"""

from __future__ import annotations

from dataclasses import dataclass

STREET = "street"  # the street office (街道办事处) of the case's street


@dataclass(frozen=True)
class Topic:
    kind: str  # "component" or "event"
    name: str  # minor_name in the codebook (GB/T 47678.5-2026)
    weight: float
    unit: str  # unit key in city.UNIT_SPECS, or STREET
    wrong_unit: str  # where a mistaken first dispatch goes (回退 path)
    found: str  # what the inspector saw (report description)
    done: str  # the unit's feedback (处置反馈)


TOPICS = (
    Topic("event", "暴露垃圾", 12, "srhw", STREET, "路边有暴露垃圾未清运", "已清运暴露垃圾，现场已清洁"),
    Topic("event", "道路不洁", 6, "srhw", STREET, "路面有油污、杂物，保洁不到位", "已安排保洁员清扫冲洗路面"),
    Topic("event", "积存垃圾渣土", 3, "srhw", STREET, "路边积存建筑垃圾渣土", "已清运积存渣土"),
    Topic("event", "垃圾站（箱）满溢", 3, "srhw", STREET, "垃圾箱满溢，周边散落垃圾", "已清运并清洗垃圾箱周边"),
    Topic("event", "非法小广告", 9, STREET, "cgzf", "墙面、电杆乱张贴小广告", "已清除小广告并做覆盖处理"),
    Topic("event", "占道经营", 8, "cgzf", STREET, "流动摊贩占用人行道经营", "已劝离占道经营摊点，现场恢复通行"),
    Topic(
        "event",
        "店外经营",
        7,
        STREET,
        "cgzf",
        "沿街商户出店经营，货物摆放至人行道",
        "已责令商户将物品移回店内",
    ),
    Topic("event", "无照经营游商", 3, "cgzf", STREET, "游商沿街叫卖", "已劝离游商"),
    Topic("event", "乱堆杂物", 6, STREET, "srhw", "公共区域乱堆放杂物", "已清理堆放杂物"),
    Topic("event", "沿街晾挂", 2, STREET, "cgzf", "沿街晾晒衣物影响市容", "已劝导住户收回晾晒物品"),
    Topic("event", "非机动车乱停放", 4, STREET, "cgzf", "非机动车乱停放堵塞人行道", "已整理摆放非机动车"),
    Topic("event", "共享单车乱象", 3, STREET, "cgzf", "共享单车大量堆积、倒伏", "已通知运营企业清理调度"),
    Topic("event", "道路破损", 6, "szgc", "drain", "人行道路面破损、坑洼", "已修补破损路面"),
    Topic("event", "路缘石缺损", 2, "szgc", "yllh", "路缘石松动缺损", "已更换路缘石"),
    Topic("event", "盲道缺损", 2, "szgc", STREET, "盲道砖破损缺失", "已修复盲道"),
    Topic("event", "绿地脏乱", 3, "yllh", "srhw", "绿地内有垃圾杂物", "已清理绿地杂物"),
    Topic("event", "施工占道", 2, "cgzf", "szgc", "施工材料占用道路", "已责令施工单位清理占道物料"),
    Topic("event", "私搭乱建", 1.5, "cgzf", STREET, "居民区私搭乱建棚屋", "已责令当事人自行拆除"),
    Topic("event", "露天烧烤", 2, "cgzf", STREET, "店外露天烧烤，油烟扰民", "已制止露天烧烤并登记"),
    Topic("event", "违规户外广告", 1, "cgzf", STREET, "未经审批设置户外广告", "已拆除违规广告"),
    Topic("component", "污水井盖", 5, "drain", "szgc", "污水井盖破损", "已更换污水井盖"),
    Topic("component", "雨水井盖", 3, "drain", "szgc", "雨水井盖破损、松动", "已更换雨水井盖"),
    Topic("component", "雨水箅子", 2, "drain", "szgc", "雨水箅子缺失", "已补装雨水箅子"),
    Topic("component", "供水井盖", 2, "water", "drain", "供水井盖破损", "已更换供水井盖"),
    Topic("component", "燃气井盖", 1, "gas", "szgc", "燃气井盖松动", "已加固燃气井盖"),
    Topic("component", "电力井盖", 1, "power", "telecom", "电力井盖破损", "已更换电力井盖"),
    Topic("component", "通信井盖", 1, "telecom", "power", "通信井盖缺损", "已更换通信井盖"),
    Topic("component", "路灯", 4, "ldgl", "power", "路灯不亮", "已维修路灯，恢复照明"),
    Topic("component", "行道树", 3, "yllh", "szgc", "行道树断枝、倾斜", "已修剪扶正行道树"),
    Topic("component", "交通护栏", 1, "szgc", "cgzf", "交通护栏损坏", "已修复交通护栏"),
    Topic("component", "垃圾箱", 2, "srhw", STREET, "垃圾箱破损", "已更换垃圾箱"),
    Topic("component", "公共厕所", 1, "srhw", STREET, "公厕设施损坏、卫生差", "已维修公厕设施并保洁"),
)

REJECT_NO_VERIFY = (
    "不属于城市管理受理范围，已告知来电人向相关部门反映",
    "描述不清、无法定位，已回复举报人补充信息",
    "属于物业管理区域内部问题，已告知由物业处理",
)
REJECT_NOT_FOUND = ("经监督员现场核实，问题不存在", "现场核实问题已消失")
VOID_REASONS = ("经审核不符合立案条件，作废", "重复上报，作废", "已由其他渠道处理完毕，作废")
RETURN_REASONS = ("该问题不属于本单位职责范围，申请回退改派", "经现场查看，产权不属本单位，申请回退")
DENY_RETURN = ("经核查属于贵单位管养范围，请按时处置",)
EXTENSION_REASONS = (
    "需更换配件，采购周期较长，申请延期",
    "工程量较大，需协调施工，申请延期",
    "受连续降雨影响无法施工，申请延期",
)
DENY_EXTENSION = ("时限内可以完成，不予延期",)
SUSPENSION_REASONS = (
    "涉及产权争议，需协调相关部门，申请挂账",
    "需纳入改造计划统一实施，申请缓办",
    "受季节影响暂不具备处置条件，申请缓办",
)
DENY_SUSPENSION = ("不符合挂账条件，请继续处置",)
RESUME_REASONS = ("协调完毕，恢复处置", "具备施工条件，恢复处置")
CHECK_FAIL_REASONS = ("现场核查问题仍未解决", "处置不彻底，现场仍有残留", "处置与反馈照片不符")
URGE_REASONS = ("该案件已超期，请责任单位加快处置并及时反馈", "群众反映强烈，请立即处置")
NOTE_REASONS = ("已电话联系责任单位负责人", "举报人再次来电询问进度，已答复", "已补充现场照片")
SELF_DISPOSE_REASONS = ("监督员现场已自行处置", "现场已整改完毕，附处置前后照片")
REFUSE_SELF_DISPOSAL = ("自行处置不到位，转立案派遣",)
CITIZEN_WORDS = ("市民反映：", "群众来电反映：", "12345转办：")
# What public reporters say after closing (市民评价, "not fixed") and how the centre answers.
NOT_FIXED_REASONS = ("问题还在，并没有处理好", "处理后没两天又出现了", "现场只处理了一半")
UPHOLD_REASONS = ("经回看处置照片并电话核实，现场已处置到位，维持结案",)
RATING_WORDS = {5: "处理很及时，满意", 4: "处理得不错", 3: "处理了，但速度一般", 2: "处理得比较慢", 1: "拖了很久才处理"}
FALSE_ALARM_REASONS = ("视频误报：现场为正常摆放，不构成问题", "视频误报：识别对象为树影", "视频误报：已属正常经营区域")
