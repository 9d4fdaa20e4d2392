"""The notifier's channels from its settings, secrets read from their files (never from the
environment itself): the SMS gateway or the development outbox for phones, SMTP for e-mail."""

from __future__ import annotations

from pathlib import Path

from cloud.core.config import Settings
from cloud.messaging.channels import Channel, OutboxChannel
from cloud.messaging.dispatcher import EMAIL, PHONE
from cloud.messaging.mail import SmtpChannel, SmtpConfig
from cloud.messaging.sms import GatewayConfig, SmsGateway


class NotSetUp(ValueError):
    """The settings do not make a channel the notifier was asked for."""


def _secret(path: Path | None, name: str) -> str:
    if path is None:
        raise NotSetUp(f"set LOCKER_CLOUD_{name.upper()} (a file holding the secret)")
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise NotSetUp(f"cannot read LOCKER_CLOUD_{name.upper()}: {exc.strerror}") from None


def gateway(settings: Settings) -> SmsGateway:
    endpoint, account, sender = settings.sms_endpoint, settings.sms_account, settings.sms_sender
    if not (endpoint and account and sender):
        raise NotSetUp("the SMS gateway needs LOCKER_CLOUD_SMS_ENDPOINT, _ACCOUNT and _SENDER")
    token = _secret(settings.sms_token_file, "sms_token_file")
    config = GatewayConfig(
        endpoint, account, token, sender, settings.sms_template_id, settings.sms_receipt_url
    )
    return SmsGateway(config)


def smtp(settings: Settings) -> SmtpChannel | None:
    if settings.smtp_host is None:
        return None
    if settings.smtp_sender is None:
        raise NotSetUp("e-mail needs LOCKER_CLOUD_SMTP_SENDER")
    password = None
    if settings.smtp_username is not None:
        password = _secret(settings.smtp_password_file, "smtp_password_file")
    config = SmtpConfig(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_sender,
        settings.smtp_username,
        password,
        settings.smtp_starttls,
    )
    return SmtpChannel(config)


def channels(settings: Settings) -> dict[str, Channel]:
    """The phone channel the settings name, and e-mail where SMTP is set."""
    made: dict[str, Channel] = {}
    if settings.notify_channel == "gateway":
        made[PHONE] = gateway(settings)
    elif settings.notify_channel == "outbox":
        made[PHONE] = OutboxChannel(settings.notify_outbox_dir)
    else:
        raise NotSetUp("set LOCKER_CLOUD_NOTIFY_CHANNEL: gateway (SMS) or outbox (development)")
    mail = smtp(settings)
    if mail is not None:
        made[EMAIL] = mail
    return made
