"""SMS through an HTTP gateway, in the request shape of Twilio's Messages resource (the
documented example; a Chinese provider such as Aliyun SMS is put behind a relay that takes this
shape).

Request (https://www.twilio.com/docs/messaging/api/message-resource, "Create a Message"):
``POST {endpoint}`` (``https://api.twilio.com/2010-04-01/Accounts/{AccountSid}/Messages.json``),
HTTP basic auth with the account SID and auth token, form-encoded ``To``, ``From`` (a number) or
``MessagingServiceSid`` (``MG...``), and either ``Body`` or, with a template configured,
``ContentSid`` and ``ContentVariables`` (JSON); ``StatusCallback`` is where the gateway reports
delivery (our ``/api/v1/messages/receipts?key=...``, see ``receipts``). The answer's ``sid``
names the message at the gateway. The message's key goes as an ``Idempotency-Key`` header: a
gateway or relay that honours it sends a repeat once; Twilio itself ignores it, so there a
repeat after a lost answer can reach the phone twice (at least once, never lost).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx2

from cloud.messaging.channels import Outgoing
from cloud.messaging.errors import Refused, TryAgain

TIMEOUT_S = 10.0  # a gateway that takes longer is treated as down: the message is retried
RETRYABLE = frozenset({408, 409, 425, 429})  # and every 5xx


@dataclass(frozen=True)
class GatewayConfig:
    endpoint: str
    account: str
    token: str  # read from its file by the caller; never logged
    sender: str  # a number for From, or a Messaging Service SID (MG...)
    template_id: str | None = None  # a Content SID (HX...): the body goes as its variable 1
    receipt_url: str | None = None


class SmsGateway:
    name = "sms"

    def __init__(self, config: GatewayConfig, client: httpx2.AsyncClient | None = None) -> None:
        self.config = config
        self.client = client or httpx2.AsyncClient(timeout=TIMEOUT_S)

    def form(self, message: Outgoing) -> dict[str, str]:
        config = self.config
        sender = "MessagingServiceSid" if config.sender.startswith("MG") else "From"
        form = {"To": message.to, sender: config.sender}
        if config.template_id:
            form["ContentSid"] = config.template_id
            form["ContentVariables"] = json.dumps({"1": message.body}, ensure_ascii=False)
        else:
            form["Body"] = message.body
        if config.receipt_url:
            form["StatusCallback"] = f"{config.receipt_url}?{urlencode({'key': message.key})}"
        return form

    async def send(self, message: Outgoing) -> str:
        try:
            answer = await self.client.post(
                self.config.endpoint,
                data=self.form(message),
                auth=httpx2.BasicAuth(self.config.account, self.config.token),
                headers={"Idempotency-Key": message.key},
            )
        except httpx2.TransportError as exc:  # refused, reset, timed out
            raise TryAgain(f"gateway unreachable ({type(exc).__name__})") from None
        status = answer.status_code
        if status >= 500 or status in RETRYABLE:
            raise TryAgain(f"gateway answered {status}")
        if status >= 300:
            raise Refused(f"gateway refused the message ({status})")
        return _sid(answer)

    async def close(self) -> None:
        await self.client.aclose()


def _sid(answer: httpx2.Response) -> str:
    try:
        sid = answer.json().get("sid")
    except (ValueError, AttributeError):
        sid = None
    if not isinstance(sid, str) or not sid:
        raise TryAgain("gateway answered without a message sid")
    return sid[:64]
