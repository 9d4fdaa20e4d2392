"""Delivery receipts from the SMS gateway: Twilio's status callback (form-encoded
``MessageSid``, ``MessageStatus``...) to ``/api/v1/messages/receipts?key=<message id>``, signed
with ``X-Twilio-Signature``: base64 of HMAC-SHA1, keyed with the auth token, over the URL the
gateway called followed by every POST parameter, sorted by name, as name then value
(https://www.twilio.com/docs/usage/webhooks/webhooks-security). A receipt moves a sent message
to ``delivered`` or ``failed``; a repeat, or one the lifecycle does not allow, changes nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Engine

from cloud.core.db import transaction
from cloud.messaging.states import MESSAGE, MessageState
from cloud.models import Notification

log = logging.getLogger(__name__)

OUTCOMES = {
    "delivered": MessageState.DELIVERED,
    "read": MessageState.DELIVERED,
    "undelivered": MessageState.FAILED,
    "failed": MessageState.FAILED,
}  # the gateway's other statuses (queued, sending, sent...) say nothing new


def signature(token: str, url: str, params: Mapping[str, str]) -> str:
    signed = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def genuine(token: str, url: str, params: Mapping[str, str], given: str) -> bool:
    expected = signature(token, url, params).encode()
    return hmac.compare_digest(expected, given.encode("utf-8", "replace"))


def apply(engine: Engine, key: str, status: str, now: datetime) -> MessageState | None:
    """The message's state after the receipt; None for a message we do not know."""
    target = OUTCOMES.get(status)
    with transaction(engine) as s:
        notice = s.get(Notification, key, with_for_update=True)
        if notice is None:
            return None
        if target is None or not MESSAGE.allows(notice.state, target):
            return notice.state
        notice.state = target
        if target is MessageState.DELIVERED:
            notice.delivered_at = now
        else:
            notice.last_error = f"the gateway could not deliver it ({status})"
        s.add(notice)
        log.info("message %s %s (gateway receipt)", key, target)
        return target
