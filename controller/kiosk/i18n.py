"""Every text on the kiosk's screens, in English and Chinese.

Keys are short names; the flows' error messages are translated by their English text, so a new
message shows in English until it is added here (and ``test_i18n`` lists it).
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

TEXTS: dict[str, dict[str, str]] = {
    "title": {"en": "Parcel locker", "zh": "智能快递柜"},
    "switch_language": {"en": "中文", "zh": "English"},
    "pick_up": {"en": "Pick up a parcel", "zh": "取件"},
    "courier": {"en": "Courier", "zh": "快递员投递"},
    "home": {"en": "Home", "zh": "首页"},
    "offline": {
        "en": "Working offline: pickups and deposits work as usual.",
        "zh": "离线运行中：取件和投递照常进行。",
    },
    "maintenance": {
        "en": "This locker is in maintenance. Please come back later.",
        "zh": "快递柜正在维护，请稍后再来。",
    },
    "enter_code": {"en": "Enter your 8-digit pickup code", "zh": "请输入8位取件码"},
    "code_label": {"en": "Pickup code", "zh": "取件码"},
    "number_pad": {"en": "Number pad", "zh": "数字键盘"},
    "delete": {"en": "Delete", "zh": "删除"},
    "clear": {"en": "Clear", "zh": "清空"},
    "open_doors": {"en": "Open", "zh": "开门"},
    "door_open_take": {
        "en": "Door {label} is open. Take your parcel and close the door.",
        "zh": "{label} 号柜门已打开，请取出包裹并关好柜门。",
    },
    "door_failed": {
        "en": "Door {label} did not open. Your parcel stays safe inside; please call the manager.",
        "zh": "{label} 号柜门未能打开。包裹仍安全存放在柜内，请联系管理员。",
    },
    "door_unknown": {
        "en": "Door {label}: checking whether it opened...",
        "zh": "{label} 号柜门：正在确认是否已打开……",
    },
    "refuse": {"en": "Refuse (damaged)", "zh": "拒收（包裹破损）"},
    "refused": {
        "en": "Parcel {waybill} refused. Close the door; the courier will collect it.",
        "zh": "已拒收包裹 {waybill}。请关好柜门，快递员会取回。",
    },
    "fee_paid": {
        "en": "Storage fee after the free period: {amount}, paid.",
        "zh": "免费保管期后的保管费：{amount}，已支付。",
    },
    "fee_owed": {
        "en": "Storage fee after the free period: {amount}. Payment is unavailable just now, so "
        "it is recorded as owed; take your parcel.",
        "zh": "免费保管期后的保管费：{amount}。支付服务暂不可用，已记为待付；请取走包裹。",
    },
    "done": {"en": "Done", "zh": "完成"},
    "wrong_code": {
        "en": "Wrong code. {n} tries left.",
        "zh": "取件码错误，还可尝试 {n} 次。",
    },
    "locked_out": {
        "en": "Too many wrong tries. Try again in {time}.",
        "zh": "错误次数过多，请在 {time} 后重试。",
    },
    "disabled": {
        "en": "Code entry is disabled for today. Please call the manager.",
        "zh": "今日取件码输入已停用，请联系管理员。",
    },
    "sign_in": {"en": "Courier sign-in", "zh": "快递员登录"},
    "courier_id": {"en": "Courier ID", "zh": "快递员编号"},
    "pin": {"en": "PIN", "zh": "密码"},
    "sign_in_button": {"en": "Sign in", "zh": "登录"},
    "sign_out": {"en": "Sign out", "zh": "退出登录"},
    "bad_sign_in": {
        "en": "Courier ID or PIN is wrong, or the credential has expired.",
        "zh": "快递员编号或密码错误，或登录凭证已过期。",
    },
    "signed_in_as": {
        "en": "Signed in: {courier} ({carrier})",
        "zh": "已登录：{courier}（{carrier}）",
    },
    "new_deposit": {"en": "Deposit a parcel", "zh": "投递包裹"},
    "waybill": {"en": "Waybill number (scan or type)", "zh": "运单号（扫描或输入）"},
    "phone": {"en": "Recipient's phone", "zh": "收件人手机号"},
    "size": {"en": "Compartment size", "zh": "格口尺寸"},
    "size_S": {"en": "Small", "zh": "小格"},
    "size_M": {"en": "Medium", "zh": "中格"},
    "size_L": {"en": "Large", "zh": "大格"},
    "size_XL": {"en": "Extra large", "zh": "超大格"},
    "low": {"en": "Low compartment (wheelchair reach)", "zh": "低位格口（方便轮椅用户）"},
    "consent": {
        "en": "How did the recipient agree to locker delivery? (not needed if announced)",
        "zh": "收件人如何同意投递到快递柜？（已预约的运单无需选择）",
    },
    "consent_recipient_app": {"en": "In the carrier's app", "zh": "在快递公司App中同意"},
    "consent_phone_call": {"en": "By phone call", "zh": "电话确认"},
    "consent_sms_reply": {"en": "By SMS reply", "zh": "短信回复确认"},
    "consent_written_note": {"en": "Written note", "zh": "书面同意"},
    "open_compartment": {"en": "Open a compartment", "zh": "打开格口"},
    "door_open_put": {
        "en": "Door {label} is open. Put the parcel in and close the door.",
        "zh": "{label} 号柜门已打开，请放入包裹并关好柜门。",
    },
    "for_recipient": {"en": "For {phone}", "zh": "收件人：{phone}"},
    "does_not_fit": {"en": "Does not fit", "zh": "放不下"},
    "cancel": {"en": "Cancel", "zh": "取消"},
    "close_to_resize": {
        "en": "Take the parcel out and close door {label}; a bigger one will open.",
        "zh": "请取出包裹并关好 {label} 号柜门，随后将打开更大的格口。",
    },
    "close_to_cancel": {
        "en": "Take the parcel out and close door {label}.",
        "zh": "请取出包裹并关好 {label} 号柜门。",
    },
    "opening": {"en": "Opening door {label}...", "zh": "正在打开 {label} 号柜门……"},
    "recorded": {
        "en": "Parcel {waybill} is in {label}. The recipient has been notified.",
        "zh": "包裹 {waybill} 已存入 {label} 号格口，已通知收件人。",
    },
    "recorded_hand_on": {
        "en": "Parcel {waybill} is in {label}.",
        "zh": "包裹 {waybill} 已存入 {label} 号格口。",
    },
    "hand_on_code": {
        "en": "This locker sends no messages: give the recipient pickup code {code}. "
        "It is shown only now and kept nowhere.",
        "zh": "本柜机不发送通知：请将取件码 {code} 告知收件人。取件码仅此时显示，不做保存。",
    },
    "flagged": {
        "en": "Consent was declared at the locker: this delivery will be reviewed.",
        "zh": "同意方式在柜机上声明，本次投递将被复核。",
    },
    "next_parcel": {"en": "Next parcel", "zh": "投递下一件"},
    "abandoned_cancelled": {"en": "Deposit cancelled.", "zh": "投递已取消。"},
    "abandoned_nothing_put_in": {
        "en": "The door closed with nothing inside: nothing was recorded.",
        "zh": "柜门关闭时格口内没有包裹，未记录投递。",
    },
    "abandoned_does_not_fit": {
        "en": "No bigger compartment is free: please take the parcel back.",
        "zh": "没有更大的空闲格口，请将包裹带回。",
    },
    "abandoned_door_failed": {
        "en": "No door could be opened for this parcel; the faulty doors are reported.",
        "zh": "无法为此包裹打开柜门，故障柜门已上报。",
    },
    "bank_full": {
        "en": "No free compartment fits size {size}. Try another size or another locker.",
        "zh": "没有合适的 {size} 空闲格口，请换尺寸或其他快递柜。",
    },
    "bank_full_class": {
        "en": "No free {klass} compartment fits size {size}. Try another size or another locker.",
        "zh": "没有合适的 {size} {klass}空闲格口，请换尺寸或其他快递柜。",
    },
    "temperature_class": {"en": "Keep the parcel", "zh": "包裹存放温度"},
    "class_ambient": {"en": "ambient", "zh": "常温"},
    "class_chilled": {"en": "chilled (2-8 °C)", "zh": "冷藏（2-8 °C）"},
    "class_frozen": {"en": "frozen (-18 °C or colder)", "zh": "冷冻（-18 °C 及以下）"},
    "returns": {"en": "Returns to collect", "zh": "待取回的退件"},
    "no_returns": {"en": "No returns for your company here.", "zh": "此处没有贵公司的退件。"},
    "collect_all": {"en": "Open all return doors", "zh": "打开全部退件柜门"},
    "door_open_collect": {
        "en": "Door {label} is open. Take return {waybill} and close the door.",
        "zh": "{label} 号柜门已打开，请取回退件 {waybill} 并关好柜门。",
    },
    "reason": {"en": "Reason: {reason}", "zh": "原因：{reason}"},
    "error": {"en": "Error", "zh": "错误"},
    "bad_input": {
        "en": "{field}: too long, or holds a character that cannot be used. Please check it.",
        "zh": "{field}：内容过长或含有无法使用的字符，请检查。",
    },
    "pickup_ended": {
        "en": "This pickup has ended. Enter your code again.",
        "zh": "本次取件已结束，请重新输入取件码。",
    },
    "notice": {"en": "Notice", "zh": "提示"},
}

# The flows' error messages (controller.errors) by their English text.
FLOW_MESSAGES: dict[str, str] = {
    "the waybill number is empty": "运单号为空",
    "this waybill was announced by another carrier": "该运单由其他快递公司预约",
    "the phone number does not match the announced recipient": "手机号与预约的收件人不符",
    "enter the recipient's phone number": "请输入收件人手机号",
    "say how the recipient agreed to locker delivery": "请选择收件人同意投递到快递柜的方式",
    "your session has ended; sign in again": "登录已过期，请重新登录",
    "sign in first": "请先登录",
    "only a parcel whose door is open for pickup can be refused": (
        "只有柜门已打开待取的包裹才能拒收"
    ),
    "this pickup has ended; enter your code again": "本次取件已结束，请重新输入取件码",
    "the recipient has declined delivery to parcel lockers: deliver by hand": (
        "收件人已拒绝快递柜投递，请送货上门"
    ),
}

Translate = Callable[..., str]


def translator(language: str) -> Translate:
    """``t(key, **values)`` in ``language``; unknown keys show as themselves, loudly."""
    lang = language if language in LANGUAGES else DEFAULT_LANGUAGE

    def t(key: str, **values: object) -> str:
        entry = TEXTS.get(key)
        text = entry[lang] if entry else f"[{key}]"
        return text.format(**values) if values else text

    return t


def flow_message(message: str, language: str) -> str:
    if language == "zh":
        return FLOW_MESSAGES.get(message, message)
    return message
