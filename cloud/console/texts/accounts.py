"""The words of the console's accounts (keys ``accounts.``), in Chinese and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    "accounts.sign_in": {"zh": "登录", "en": "Sign in"},
    "accounts.email": {"zh": "电子邮箱", "en": "E-mail"},
    "accounts.password": {"zh": "密码", "en": "Password"},
    "accounts.forgot_link": {"zh": "忘记密码？", "en": "Forgot your password?"},
    "accounts.sign_in_refused": {
        "zh": "邮箱或密码不正确。",
        "en": "The e-mail or the password is not right.",
    },
    "accounts.locked_out": {
        "zh": "尝试次数过多，请在 {minutes} 分钟后再试。",
        "en": "Too many tries: try again in {minutes} min.",
    },
    "accounts.signed_out": {"zh": "您已退出登录。", "en": "You are signed out."},
    "accounts.password_set": {
        "zh": "密码已设置，请登录。",
        "en": "Your password is set: sign in with it.",
    },
    "accounts.set_password": {"zh": "设置密码", "en": "Set your password"},
    "accounts.password_new": {"zh": "新密码", "en": "New password"},
    "accounts.password_again": {"zh": "再次输入新密码", "en": "The new password again"},
    "accounts.password_hint": {
        "zh": "至少 12 个字符；可以是一句好记的话。",
        "en": "At least 12 characters; a sentence you remember works well.",
    },
    "accounts.password_mismatch": {
        "zh": "两次输入的密码不一致。",
        "en": "The two passwords differ.",
    },
    "accounts.password_short": {
        "zh": "密码至少需要 12 个字符。",
        "en": "A password needs at least 12 characters.",
    },
    "accounts.password_long": {
        "zh": "密码不能超过 256 个字符。",
        "en": "A password may have at most 256 characters.",
    },
    "accounts.password_common": {
        "zh": "这个密码太常见了，请换一个。",
        "en": "This password is too common: choose another.",
    },
    "accounts.link_code": {
        "zh": "链接中 # 之后的部分",
        "en": "The part of your link after #",
    },
    "accounts.link_unusable": {
        "zh": "这个链接已使用或已过期，请重新申请。",
        "en": "This link was used or has expired: ask for a new one.",
    },
    "accounts.forgot": {"zh": "重设密码", "en": "Reset your password"},
    "accounts.forgot_intro": {
        "zh": "输入您的邮箱，我们会发送一个一次性链接。",
        "en": "Enter your e-mail and we send you a one-time link.",
    },
    "accounts.forgot_submit": {"zh": "发送链接", "en": "Send the link"},
    "accounts.forgot_sent": {
        "zh": "如果这个邮箱属于某个账户，重设链接已发出，一小时内有效。",
        "en": "If this e-mail is an account's, a reset link is on its way; it works for an hour.",
    },
    "accounts.people": {"zh": "人员", "en": "People"},
    "accounts.invite": {"zh": "邀请人员", "en": "Invite a person"},
    "accounts.name": {"zh": "姓名", "en": "Name"},
    "accounts.role": {"zh": "角色", "en": "Role"},
    "accounts.role_operator_admin": {"zh": "运营管理员", "en": "Operator admin"},
    "accounts.role_site_manager": {"zh": "站点管理员", "en": "Site manager"},
    "accounts.sites": {"zh": "站点", "en": "Sites"},
    "accounts.sites_hint": {
        "zh": "站点管理员只能看到所选站点；运营管理员可以看到全部站点。",
        "en": "A site manager sees only the sites chosen; an operator admin sees them all.",
    },
    "accounts.all_sites": {"zh": "全部站点", "en": "All sites"},
    "accounts.status": {"zh": "状态", "en": "Status"},
    "accounts.active": {"zh": "已启用", "en": "Active"},
    "accounts.pending": {"zh": "待设置密码", "en": "Invited"},
    "accounts.inactive": {"zh": "已停用", "en": "Inactive"},
    "accounts.invite_submit": {"zh": "发送邀请", "en": "Send the invitation"},
    "accounts.invited_mailed": {
        "zh": "邀请已发送至 {email}。",
        "en": "The invitation is on its way to {email}.",
    },
    "accounts.invited_link": {
        "zh": "尚未配置邮件（开发环境）：请把这个一次性链接交给 {email}，它只显示这一次。",
        "en": "Mail is not set up (development): give {email} this one-time link; "
        "it is shown this once.",
    },
    "accounts.email_invalid": {"zh": "邮箱格式不正确。", "en": "This is not an e-mail address."},
    "accounts.name_invalid": {"zh": "请填写姓名。", "en": "Give a name."},
    "accounts.operator_unknown": {"zh": "没有这个运营方。", "en": "There is no such operator."},
    "accounts.sites_needed": {
        "zh": "站点管理员至少需要一个站点。",
        "en": "A site manager needs at least one site.",
    },
    "accounts.sites_not_yours": {
        "zh": "只能分配您所属运营方的站点。",
        "en": "Only your operator's sites can be given.",
    },
    "accounts.email_unknown": {"zh": "没有这个邮箱的账户。", "en": "No account has this e-mail."},
    "accounts.deactivate": {"zh": "停用", "en": "Deactivate"},
    "accounts.deactivate_label": {"zh": "停用 {name}", "en": "Deactivate {name}"},
    "accounts.deactivated": {
        "zh": "{email} 已停用，其所有会话已结束。",
        "en": "{email} is deactivated and signed out everywhere.",
    },
    "accounts.reactivate": {"zh": "重新启用", "en": "Reactivate"},
    "accounts.reactivate_label": {"zh": "重新启用 {name}", "en": "Reactivate {name}"},
    "accounts.reactivated": {"zh": "{email} 已重新启用。", "en": "{email} is active again."},
    "accounts.not_yourself": {"zh": "不能停用自己。", "en": "You cannot deactivate yourself."},
    "accounts.person_unknown": {"zh": "没有这个人员。", "en": "There is no such person."},
    "accounts.actions": {"zh": "操作", "en": "Actions"},
    "accounts.email_taken": {
        "zh": "这个邮箱已有账户。",
        "en": "This e-mail already has an account.",
    },
    "accounts.invite_not_yours": {
        "zh": "只有运营管理员可以邀请本运营方的人员。",
        "en": "Only an operator admin may invite, and only to its own operator.",
    },
    "accounts.invite_invalid": {
        "zh": "无法发出这个邀请。",
        "en": "This invitation cannot be made.",
    },
    "accounts.admins_only": {
        "zh": "只有运营管理员可以管理人员。",
        "en": "Only an operator admin manages people.",
    },
    "accounts.error": {"zh": "出错了。", "en": "Something went wrong."},
    "accounts.refused": {"zh": "请求已拒绝", "en": "Request refused"},
    "accounts.refused_body": {
        "zh": "这个表单已过期或并非来自管理台。请返回并重试。",
        "en": "This form has expired or did not come from the console. Go back and try again.",
    },
    "accounts.back": {"zh": "返回管理台", "en": "Back to the console"},
    "accounts.mail_invite_subject": {
        "zh": "快递柜管理台邀请",
        "en": "Your locker console invitation",
    },
    "accounts.mail_invite_body": {
        "zh": "{name}，您好：您已受邀使用快递柜管理台。"
        "请在三天内打开下面的链接设置密码（仅可使用一次）。",
        "en": "Hello {name}, you are invited to the locker console. Open the link below within "
        "three days to set your password (it works once).",
    },
    "accounts.mail_reset_subject": {"zh": "重设管理台密码", "en": "Reset your console password"},
    "accounts.mail_reset_body": {
        "zh": "{name}，您好：有人申请重设您的管理台密码。如果是您本人，请在一小时内打开下面的链接"
        "（仅可使用一次）；否则请忽略本邮件。",
        "en": "Hello {name}, someone asked to reset your console password. If it was you, open "
        "the link below within an hour (it works once); if not, ignore this mail.",
    },
}
