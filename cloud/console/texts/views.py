"""The words of the read models' values (keys ``views.``), in Chinese and English: a door's
state (``views.door.<DoorState>``), a dwell bucket (``views.bucket.<Bucket>``), a record's kind
(``views.kind.<Kind>``), a report's figures (``views.report.*``) and the records' CSV columns
(``views.csv.*``)."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "views.door.forced": {"zh": "被撬开", "en": "Forced"},
    "views.door.jammed": {"zh": "卡住", "en": "Jammed"},
    "views.door.open": {"zh": "门开着", "en": "Open"},
    "views.door.out_of_service": {"zh": "停用", "en": "Out of service"},
    "views.door.occupied": {"zh": "有件", "en": "Occupied"},
    "views.door.reserved": {"zh": "已预约", "en": "Reserved"},
    "views.door.free": {"zh": "空闲", "en": "Free"},
    "views.bucket.under_1d": {"zh": "不足1天", "en": "Under 1 day"},
    "views.bucket.1_to_3d": {"zh": "1至3天", "en": "1 to 3 days"},
    "views.bucket.3_to_7d": {"zh": "3至7天", "en": "3 to 7 days"},
    "views.bucket.over_7d": {"zh": "7天以上", "en": "7 days or more"},
    "views.kind.deposit": {"zh": "投递", "en": "Deposit"},
    "views.kind.pickup": {"zh": "取件", "en": "Pickup"},
    "views.kind.refusal": {"zh": "拒收", "en": "Refusal"},
    "views.kind.return": {"zh": "退回", "en": "Return"},
    "views.kind.remote_open": {"zh": "远程开门", "en": "Remote open"},
    "views.kind.maintenance": {"zh": "维护模式", "en": "Maintenance"},
    "views.kind.service": {"zh": "格口启停", "en": "Service change"},
    "views.report.deposits": {"zh": "投递数", "en": "Deposits"},
    "views.report.pickups": {"zh": "取件数", "en": "Pickups"},
    "views.report.refusals": {"zh": "拒收数", "en": "Refusals"},
    "views.report.returns": {"zh": "退回数", "en": "Returns"},
    "views.report.mean_dwell": {"zh": "平均滞留时长", "en": "Mean dwell"},
    "views.report.door_faults": {"zh": "柜门故障", "en": "Door faults"},
    "views.report.uptime": {"zh": "在线率", "en": "Uptime"},
    "views.csv.at": {"zh": "时间", "en": "Time"},
    "views.csv.kind": {"zh": "类型", "en": "Kind"},
    "views.csv.bank": {"zh": "柜机", "en": "Bank"},
    "views.csv.compartment": {"zh": "格口", "en": "Compartment"},
    "views.csv.carrier": {"zh": "快递公司", "en": "Carrier"},
    "views.csv.who": {"zh": "操作人", "en": "Who"},
    "views.csv.waybill": {"zh": "运单号", "en": "Waybill"},
    "views.csv.detail": {"zh": "说明", "en": "Detail"},
}
