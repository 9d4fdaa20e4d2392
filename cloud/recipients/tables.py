"""The recipient page's own tables (decision 0018).

- ``GroupAction``: what a recipient did from their page, once each: extend a group (target ""),
  refuse a parcel (target: the parcel's id). Unique, so a double submit acts once.
- ``RecipientShare``: a second code for a group; the code is derived from the secret key and
  the share's id (``cloud.recipients.derive``), never stored; revoked by setting ``revoked_at``.
- ``RecipientConsent``: a recipient's standing answer, keyed by a keyed hash of their phone
  (never the number): ``consent`` for one bank, or ``refuse`` everywhere (``bank_id`` ``*``),
  with the scrypt verifier the banks were sent, for a bank added later.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field

from cloud.models import CloudModel, new_id, utcnow

EVERYWHERE = "*"


class GroupAction(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    group_id: str = Field(index=True)
    bank_id: str = Field(foreign_key="bank.id")
    kind: str  # "extend" | "refuse"
    target: str = ""
    command_id: str = Field(foreign_key="command.id")
    at: datetime = Field(default_factory=utcnow)

    __table_args__ = (UniqueConstraint("group_id", "kind", "target", name="one_action_each"),)


class RecipientShare(CloudModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    group_id: str = Field(index=True)
    bank_id: str = Field(foreign_key="bank.id")
    created_at: datetime = Field(default_factory=utcnow)
    revoked_at: datetime | None = None


class RecipientConsent(CloudModel, table=True):
    phone_hash: str = Field(primary_key=True)
    bank_id: str = Field(primary_key=True)  # a bank's id, or EVERYWHERE for a refusal
    choice: str  # "consent" | "refuse"
    at: datetime = Field(default_factory=utcnow)
    # a refusal's phone as the banks get it (``phone_verifier`` under the fleet's phone salt),
    # for a bank added later; never the number
    salt: str = ""
    verifier: str = ""
