"""E-mail over SMTP (aiosmtplib). The message's key is its ``Message-ID``
(``<key@domain>``): a mail system that sees one twice can tell it is a repeat."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage

import aiosmtplib

from cloud.messaging.channels import Outgoing
from cloud.messaging.errors import Refused, TryAgain

TIMEOUT_S = 30.0


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    sender: str  # From:, e.g. "Maple Lockers <lockers@example.org>"
    username: str | None = None
    password: str | None = None  # read from its file by the caller; never logged
    starttls: bool = True


class SmtpChannel:
    name = "email"

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def message_id(self, key: str) -> str:
        domain = self.config.sender.rpartition("@")[2].strip(" >") or "localhost"
        return f"<{key}@{domain}>"

    def compose(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage()
        mail["From"] = self.config.sender
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Message-ID"] = self.message_id(message.key)
        mail.set_content(message.body)
        return mail

    async def send(self, message: Outgoing) -> str:
        config = self.config
        try:
            await aiosmtplib.send(
                self.compose(message),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password,
                start_tls=config.starttls,
                timeout=TIMEOUT_S,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            raise Refused("SMTP server refused the recipient") from None
        except aiosmtplib.SMTPResponseException as exc:
            error = TryAgain if 400 <= exc.code < 500 else Refused
            raise error(f"SMTP server answered {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise TryAgain(f"SMTP server unreachable ({type(exc).__name__})") from None
        return self.message_id(message.key)
