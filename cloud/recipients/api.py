"""What a carrier asks of a recipient's standing answer before announcing a parcel to a bank:
``consented`` (deliver into that bank's lockers), ``refused`` (no locker anywhere: deliver by
hand; the kiosk would refuse the deposit) or ``unknown`` (ask them, as before). The phone goes in
the body, never the URL, so that no access log keeps it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from cloud.api.deps import CurrentPrincipal, EngineDep, SettingsDep
from cloud.api.routes import ERRORS
from cloud.models import Bank, Role
from cloud.recipients import consent
from cloud.services.errors import NotFound
from locker_contract.text import Text

router = APIRouter(prefix="/api/v1", responses=ERRORS, tags=["carriers"])


class ConsentQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bank_id: Annotated[Text, Field(min_length=1, max_length=64)]
    recipient_phone: Annotated[Text, Field(min_length=7, max_length=32)]


class ConsentAnswer(BaseModel):
    bank_id: str
    answer: consent.Answer


@router.post("/recipients/consent")
def recipient_consent(
    body: ConsentQuery, engine: EngineDep, settings: SettingsDep, who: CurrentPrincipal
) -> ConsentAnswer:
    """The recipient's standing answer on locker delivery at ``bank_id``."""
    who.require(Role.CARRIER)
    with Session(engine) as s:
        if s.get(Bank, body.bank_id) is None:
            raise NotFound(f"no bank {body.bank_id}")
        answer = consent.answer(s, settings.secret_key, body.recipient_phone, body.bank_id)
    return ConsentAnswer(bank_id=body.bank_id, answer=answer)
