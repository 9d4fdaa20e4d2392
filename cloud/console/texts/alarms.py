"""The words of alarms and door health (keys ``alarms.`` and ``health.``), in Chinese and English.

``alarms.kind.<kind>``, ``alarms.class.<class>``, ``alarms.state.<state>`` and
``alarms.cause.<kind>`` name what ``cloud.console.alarms`` returns; ``health.reason.<reason>``
names a door health proposal's reasons (``cloud.console.health.score``).
"""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "alarms.class.technical": {"zh": "技术故障", "en": "Technical"},
    "alarms.class.tamper": {"zh": "撬动/非法操作", "en": "Tamper"},
    "alarms.class.timer": {"zh": "超时", "en": "Timer"},
    "alarms.class.environment": {"zh": "环境", "en": "Environment"},
    "alarms.state.raised": {"zh": "已触发", "en": "Raised"},
    "alarms.state.acknowledged": {"zh": "已确认", "en": "Acknowledged"},
    "alarms.state.cleared": {"zh": "已解除", "en": "Cleared"},
    "alarms.kind.door.jammed": {"zh": "格口门卡住", "en": "Door jammed"},
    "alarms.kind.door.outcome_unknown": {"zh": "开门结果未知", "en": "Unlock outcome unknown"},
    "alarms.kind.board.offline": {"zh": "锁控板离线", "en": "Lock board offline"},
    "alarms.kind.bank.offline": {"zh": "柜机离线", "en": "Bank offline"},
    "alarms.kind.clock.skew": {"zh": "柜机时钟偏差", "en": "Bank clock off"},
    "alarms.kind.stream.stalled": {"zh": "事件停滞", "en": "Event stream stalled"},
    "alarms.kind.event.quarantined": {"zh": "事件被隔离", "en": "Event set aside"},
    "alarms.kind.door.forced_open": {"zh": "格口门被强行打开", "en": "Door forced open"},
    "alarms.kind.kiosk.lockout": {"zh": "键盘被锁定", "en": "Keypad locked out"},
    "alarms.kind.door.left_open": {"zh": "格口门未关", "en": "Door left open"},
    "alarms.kind.parcel.overdue": {"zh": "快件滞留超期", "en": "Parcel overdue"},
    "alarms.kind.temperature_excursion": {"zh": "温度超限", "en": "Temperature out of range"},
    "alarms.kind.temperature_sensor": {"zh": "温度传感器故障", "en": "Temperature sensor failing"},
    "alarms.cause.door.jammed": {
        "zh": "该格口门卡住后尚未见到正常打开",
        "en": "the door has not been seen to open since it jammed",
    },
    "alarms.cause.door.outcome_unknown": {
        "zh": "此后尚未见到该格口门打开或关闭",
        "en": "the door has not been seen to open or shut since",
    },
    "alarms.cause.board.offline": {
        "zh": "锁控板尚未恢复在线",
        "en": "the board has not reported back online",
    },
    "alarms.cause.bank.offline": {"zh": "柜机仍然离线", "en": "the bank is offline"},
    "alarms.cause.clock.skew": {"zh": "柜机时钟仍有偏差", "en": "the bank's clock is still off"},
    "alarms.cause.stream.stalled": {
        "zh": "柜机事件仍未到达",
        "en": "the bank's events still do not arrive",
    },
    "alarms.cause.event.quarantined": {
        "zh": "该事件仍被隔离：请放行或丢弃",
        "en": "the event is still set aside: release or drop it",
    },
    "alarms.cause.temperature_sensor": {
        "zh": "温度传感器尚未恢复读数",
        "en": "the zone's sensor has not read again",
    },
    "alarms.cause.unknown": {
        "zh": "云端尚未看到故障原因消除",
        "en": "the cloud has not seen its cause end",
    },
    "alarms.cannot_close": {
        "zh": "技术告警在故障原因消除前不能关闭：{cause}",
        "en": "A technical alarm cannot be closed while its cause persists: {cause}",
    },
    "alarms.acknowledge": {"zh": "确认", "en": "Acknowledge"},
    "alarms.close": {"zh": "关闭", "en": "Close"},
    "alarms.note": {"zh": "备注", "en": "Note"},
    "alarms.raised_at": {"zh": "触发时间", "en": "Raised"},
    "alarms.acknowledged_by": {"zh": "确认人", "en": "Acknowledged by"},
    "alarms.cleared_by_cause": {"zh": "故障消除后自动解除", "en": "Cleared when its cause ended"},
    "alarms.escalated": {"zh": "已升级通知", "en": "Escalated"},
    "alarms.escalation.subject": {
        "zh": "告警未确认：{kind}，{where}",
        "en": "Alarm not acknowledged: {kind} at {where}",
    },
    "alarms.escalation.body": {
        "zh": "告警 {kind}（{where}）于 {raised} 触发，至今无人确认。请登录管理台处理。",
        "en": (
            "The alarm {kind} at {where}, raised at {raised}, has not been acknowledged. "
            "Please sign in to the console to deal with it."
        ),
    },
    "health.score": {"zh": "健康分", "en": "Health score"},
    "health.latency": {"zh": "开门延迟（毫秒）", "en": "Unlock-to-open latency (ms)"},
    "health.jams": {"zh": "卡门次数", "en": "Jams"},
    "health.forced": {"zh": "强行打开次数", "en": "Forced openings"},
    "health.flaps": {"zh": "传感器抖动次数", "en": "Sensor flapping"},
    "health.unlocks": {"zh": "开锁次数", "en": "Unlocks"},
    "health.proposed": {"zh": "建议停用", "en": "Proposed for quarantine"},
    "health.quarantine": {"zh": "一键停用", "en": "Quarantine"},
    "health.quarantined": {"zh": "已停用", "en": "Out of service"},
    "health.reason.jams": {"zh": "近期多次卡门", "en": "jammed repeatedly"},
    "health.reason.jam_rate": {"zh": "卡门比例过高", "en": "too many unlocks jam"},
    "health.reason.unknown": {"zh": "多次开门结果未知", "en": "unlock outcomes often unknown"},
    "health.reason.slow": {"zh": "开门延迟过长", "en": "opens too slowly"},
    "health.reason.slowing": {"zh": "开门延迟持续变长", "en": "opening more and more slowly"},
    "health.reason.flapping": {"zh": "门磁传感器抖动", "en": "its door sensor flaps"},
    "health.reason.forced": {"zh": "多次被强行打开", "en": "forced open repeatedly"},
    "health.reason.score": {"zh": "健康分过低", "en": "health score too low"},
}
