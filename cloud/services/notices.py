"""Recipients' messages as the notifier sends them: the one place a pickup code is opened.

Ingest stores each notice with its text as a template and the code sealed by the bank for the
notifier's public key (``locker_contract.sealing``); only the notifier holds the private key, in
a file named by ``notify_private_key_file``, and fills the template just before sending. The code
is never written back: the plain message exists only in flight (decision 0011).
"""

from __future__ import annotations

from pathlib import Path

from nacl.public import PrivateKey

from cloud.models import Notification
from cloud.services.errors import Conflict
from locker_contract import sealing

CODE_PLACEHOLDER = "{code}"


def open_notification(notification: Notification, private_key: PrivateKey) -> str:
    """The message for the recipient, with the pickup code opened into it."""
    if notification.sealed_code is None:
        raise Conflict("this notice's code was purged: its parcel has left the locker")
    try:
        code = sealing.open_code(private_key, notification.sealed_code)
    except sealing.SealingError as exc:
        raise Conflict(f"notice {notification.id}: {exc}") from None
    head, found, tail = notification.text.rpartition(CODE_PLACEHOLDER)
    if not found:
        raise Conflict(f"notice {notification.id} has no place for the code")
    return head + code + tail


def notify_private_key(path: Path | None) -> PrivateKey:
    """The notifier's private key from its file (the settings' ``notify_private_key_file``)."""
    if path is None:
        raise Conflict("set LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE to open pickup codes")
    try:
        return sealing.read_private_key(path)
    except sealing.SealingError as exc:
        raise Conflict(str(exc)) from None
