"""The words of the console's shell and pages (keys ``pages.``), in Chinese and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "pages.console": {"zh": "快递柜管理台", "en": "Locker console"},
    "pages.skip": {"zh": "跳到主要内容", "en": "Skip to main content"},
    "pages.nav": {"zh": "主导航", "en": "Main navigation"},
    "pages.switch": {"zh": "English", "en": "中文"},
    "pages.fleet": {"zh": "柜机总览", "en": "Fleet"},
    "pages.alarms": {"zh": "告警", "en": "Alarms"},
    "pages.parcels": {"zh": "快件", "en": "Parcels"},
    "pages.records": {"zh": "记录", "en": "Records"},
    "pages.reports": {"zh": "报表", "en": "Reports"},
    "pages.health": {"zh": "格口健康", "en": "Door health"},
    "pages.sign_out": {"zh": "退出登录", "en": "Sign out"},
    "pages.signed_in_as": {"zh": "当前用户：{name}", "en": "Signed in as {name}"},
    "pages.live_on": {"zh": "实时更新已连接", "en": "Live updates on"},
    "pages.live_off": {"zh": "实时更新已断开", "en": "Live updates off"},
    "pages.not_found": {"zh": "未找到", "en": "Not found"},
    "pages.not_found_body": {
        "zh": "没有这个页面，或您无权查看。",
        "en": "There is no such page, or it is not yours to see.",
    },
}
