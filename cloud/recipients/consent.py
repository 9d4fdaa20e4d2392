"""A recipient's standing answer on locker delivery (decision 0018).

Kept under a keyed hash of the phone (``derive.phone_hash``), never the number: ``consent`` for
one bank, or ``refuse`` for every locker. A refusal (and its withdrawal) reaches every bank as
``recipient.refusal`` with the phone's verifier under the fleet's phone salt, and the kiosk refuses
deposits for that phone; a carrier reads the answer before announcing (``answer``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Engine
from sqlmodel import Session, col, delete, select

from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import Bank
from cloud.recipients import derive
from cloud.recipients.service import COMMAND_TTL_S, group_parcels
from cloud.recipients.tables import EVERYWHERE, RecipientConsent
from cloud.services.commands import enqueue_command
from cloud.services.errors import Conflict
from locker_contract import commands as contract
from locker_contract.phones import phone_verifier


class Choice(StrEnum):
    CONSENT = "consent"  # to this bank, standing
    REFUSE = "refuse"  # no locker, anywhere
    CLEAR = "clear"  # neither any more


class Answer(StrEnum):
    """What a carrier is told of a recipient at a bank."""

    CONSENTED = "consented"
    REFUSED = "refused"
    UNKNOWN = "unknown"  # ask them, as before


def answer(s: Session, secret_key: str, phone: str, bank_id: str) -> Answer:
    key = derive.phone_hash(secret_key, phone)
    rows = s.exec(select(RecipientConsent).where(RecipientConsent.phone_hash == key)).all()
    choices = {r.bank_id: r.choice for r in rows}
    if choices.get(EVERYWHERE) == Choice.REFUSE:
        return Answer.REFUSED
    if choices.get(bank_id) == Choice.CONSENT:
        return Answer.CONSENTED
    return Answer.UNKNOWN


def current(s: Session, secret_key: str, group_id: str) -> Answer:
    """The answer of the recipient of ``group_id`` for its bank."""
    parcel = group_parcels(s, group_id)[0]
    return answer(s, secret_key, parcel.recipient_phone, parcel.bank_id)


def choose(
    engine: Engine, settings: Settings, group_id: str, choice: Choice, now: datetime
) -> None:
    """Record the recipient's choice; a refusal given or taken back goes to every bank."""
    with transaction(engine) as s:
        parcel = group_parcels(s, group_id)[0]
        phone = parcel.recipient_phone
        if not phone:
            raise Conflict("this link's parcels have ended: its phone number is erased")
        key = derive.phone_hash(settings.secret_key, phone)
        was = answer(s, settings.secret_key, phone, parcel.bank_id)
        mine = col(RecipientConsent.phone_hash) == key
        if choice == Choice.CONSENT:  # this bank added; a refusal everywhere taken back
            everywhere = col(RecipientConsent.bank_id) == EVERYWHERE
            s.exec(delete(RecipientConsent).where(mine, everywhere))
            row = RecipientConsent(phone_hash=key, bank_id=parcel.bank_id, choice=choice, at=now)
            s.merge(row)
        else:
            s.exec(delete(RecipientConsent).where(mine))
        salt = derive.phone_salt(settings.secret_key)
        verifier = phone_verifier(phone, salt)  # one scrypt, however many banks
        if choice == Choice.REFUSE:
            row = RecipientConsent(
                phone_hash=key,
                bank_id=EVERYWHERE,
                choice=choice,
                at=now,
                salt=salt,
                verifier=verifier,
            )
            s.add(row)
        refused = choice == Choice.REFUSE
        if refused != (was == Answer.REFUSED):
            command = contract.RecipientRefusal(salt=salt, verifier=verifier, refused=refused)
            for bank_id in s.exec(select(Bank.id)).all():
                enqueue_command(s, bank_id, command, ttl_s=COMMAND_TTL_S, now=now)


def push_to_new_bank(s: Session, bank_id: str, now: datetime | None = None) -> None:
    """Every standing refusal, for a bank added to the fleet (in its creation's transaction)."""
    refusals = select(RecipientConsent).where(RecipientConsent.bank_id == EVERYWHERE)
    for row in s.exec(refusals.where(RecipientConsent.choice == Choice.REFUSE)):
        command = contract.RecipientRefusal(salt=row.salt, verifier=row.verifier, refused=True)
        enqueue_command(s, bank_id, command, ttl_s=COMMAND_TTL_S, now=now)
