"""What a message borrows from the other parts of issue 14: the recipient's page link
(``cloud.recipients.links``) and the storage policy's deadline and fee rule. Until the storage
policy is in, the deadline is the notifier's ``notify_storage_hours`` after the deposit and the
message shows no fee rule (it never states a rule it does not know)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from cloud.core.config import Settings
from cloud.models import Notification
from cloud.recipients.links import recipient_link

LINK_GRACE = timedelta(days=3)  # a link outlives the deadline: the page then shows the return


def link_for(settings: Settings, notice: Notification, deadline: datetime, code: str) -> str:
    """The signed link to the recipient's page for the message's pickup group (the code, when
    the message carries one, in its fragment: never sent to the server)."""
    if notice.group_id is None:
        return ""
    return recipient_link(settings, notice.group_id, deadline + LINK_GRACE, code=code or None)


def deadline(s: Session, notice: Notification, deposited: datetime, storage: timedelta) -> datetime:
    """When the group's parcels must be picked up."""
    return deposited + storage


def fee_rule(s: Session, notice: Notification, language: str) -> str:
    """The free period and fee rule in words, or "" where no policy says."""
    return ""
