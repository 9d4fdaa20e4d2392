"""The recipient page's words, in Chinese and English: one table, every key in both."""

from __future__ import annotations

LANGUAGES = ("zh", "en")  # the first is the default

TEXTS: dict[str, dict[str, str]] = {
    "title": {"zh": "您的快件", "en": "Your parcels"},
    "switch": {"zh": "English", "en": "中文"},
    "where": {"zh": "取件地点", "en": "Where"},
    "map": {"zh": "在地图中打开", "en": "Open in maps"},
    "doors": {"zh": "格口", "en": "Compartments"},
    "deadline": {"zh": "请在此时间前取件", "en": "Pick up before"},
    "fees": {"zh": "保管费用", "en": "Storage fees"},
    "owed": {
        "zh": "目前应付：{amount}（取件时在快递柜支付）",
        "en": "Owed so far: {amount} (paid at the locker)",
    },
    "code": {"zh": "取件码", "en": "Pickup code"},
    "code_hint": {
        "zh": "在快递柜的扫码口出示二维码，或在屏幕上输入取件码。",
        "en": "Show the QR code to the locker's scanner, or type the code on its screen.",
    },
    "code_missing": {
        "zh": "取件码在您收到的短信中（本页不保存取件码）。",
        "en": "Your pickup code is in the message you received (this page keeps no code).",
    },
    "parcel": {"zh": "快件", "en": "Parcel"},
    "carrier": {"zh": "快递公司", "en": "Carrier"},
    "status": {"zh": "状态", "en": "Status"},
    "status_in_locker": {"zh": "在柜中待取", "en": "Waiting in the locker"},
    "status_refusing": {"zh": "已拒收，正在通知快递柜", "en": "Refused: telling the locker"},
    "status_return_pending": {"zh": "已退回快递员", "en": "Going back to the courier"},
    "status_picked_up": {"zh": "已取件", "en": "Picked up"},
    "status_returned": {"zh": "已退回", "en": "Returned"},
    "status_announced": {"zh": "尚未投递", "en": "Not delivered yet"},
    "actions": {"zh": "您可以", "en": "You can"},
    "extend": {
        "zh": "延长保管 {hours} 小时（仅一次）",
        "en": "Keep it {hours} hours longer (once)",
    },
    "extended": {"zh": "已延长保管期。", "en": "The storage period is extended."},
    "share": {"zh": "生成代取码给他人", "en": "Give someone a code to pick up for you"},
    "shared": {"zh": "代取码", "en": "Code for someone else"},
    "share_hint": {
        "zh": "把此码发给代您取件的人。撤销后此码立即失效，您自己的取件码不受影响。",
        "en": "Send this code to whoever picks up for you. Revoke it and it stops working; "
        "your own code still works.",
    },
    "revoke": {"zh": "撤销代取码", "en": "Revoke this code"},
    "refuse": {"zh": "拒收此件（退回快递公司）", "en": "Refuse this parcel (back to its carrier)"},
    "consent": {"zh": "投递偏好", "en": "Delivery to lockers"},
    "consent_now_consented": {
        "zh": "您已同意快件投递到此快递柜。",
        "en": "You agreed to deliveries into this locker.",
    },
    "consent_now_refused": {
        "zh": "您已拒绝快件投递到任何快递柜。",
        "en": "You said no to deliveries into any locker.",
    },
    "consent_now_unknown": {
        "zh": "快递员投递前需征得您的同意。",
        "en": "Couriers must ask you before using a locker.",
    },
    "consent_give": {"zh": "以后可直接投递到此快递柜", "en": "Always allow this locker"},
    "consent_refuse": {"zh": "不要投递到快递柜", "en": "Never use lockers for me"},
    "consent_clear": {"zh": "撤销我的偏好", "en": "Forget my choice"},
    "done_extend": {"zh": "已延长保管期。", "en": "Extended."},
    "done_share": {"zh": "代取码已生成。", "en": "A code for someone else is ready."},
    "done_revoke": {"zh": "代取码已撤销。", "en": "That code is revoked."},
    "done_refuse": {
        "zh": "已拒收，快件将退回快递公司。",
        "en": "Refused: it goes back to its carrier.",
    },
    "done_consent": {"zh": "已保存您的偏好。", "en": "Your choice is saved."},
    "ended": {"zh": "这些快件已不在柜中。", "en": "None of these parcels is in the locker now."},
    "error": {"zh": "无法完成", "en": "Not done"},
    "link_refused": {
        "zh": "此链接无效。请使用短信中的完整链接。",
        "en": "This link is not valid. Use the whole link from your message.",
    },
    "link_expired": {
        "zh": "此链接已过期。如快件仍在柜中，请用短信中的取件码取件。",
        "en": "This link has expired. If your parcel is still in the locker, use the code "
        "from your message.",
    },
    "link_unknown": {
        "zh": "此链接没有对应的快件。",
        "en": "Nothing is waiting for this link.",
    },
}


# The services' refusals (``cloud.recipients.service``, ``consent``) by their English text.
REFUSALS_ZH: dict[str, str] = {
    "this link's parcels have ended: its phone number is erased": (
        "此链接的快件已结束，无法保存偏好。"
    ),
    "choose consent, refuse or clear": "请选择一项投递偏好。",
    "no parcel of this link is waiting in the locker any more": "此链接的快件已不在柜中。",
    "already done: extend": "保管期已延长过一次。",
    "already done: refuse": "此件已拒收。",
    "no such parcel waiting for this link": "此链接下没有这件待取快件。",
    "a second code is active already: revoke it first": "已有一个代取码，请先撤销。",
    "no such second code for this link": "此链接下没有这个代取码。",
}


def refusal(message: str, language: str) -> str:
    """A service's refusal in the reader's language (English as the service said it)."""
    return REFUSALS_ZH.get(message, message) if language == "zh" else message


def pick_language(query: str | None, accept: str) -> str:
    """``?lang=`` if it names one of ours, else the first of ours in ``Accept-Language``."""
    if query in LANGUAGES:
        return query
    for part in accept.split(","):
        tag = part.split(";")[0].strip().lower()
        for language in LANGUAGES:
            if tag == language or tag.startswith(f"{language}-"):
                return language
    return LANGUAGES[0]


def translator(language: str) -> TextsOf:
    return TextsOf(language)


class TextsOf:
    """``t(key, **values)`` in one language, for the templates."""

    def __init__(self, language: str) -> None:
        self.language = language

    def __call__(self, key: str, **values: object) -> str:
        return TEXTS[key][self.language].format(**values)
