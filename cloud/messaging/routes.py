"""The messages' routes: their states for the console (a bank's) and for carriers (their
parcels'), and the SMS gateway's delivery receipts (signed by the gateway, not by a key)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from cloud.api.deps import ClockDep, CurrentPrincipal, EngineDep, SettingsDep
from cloud.api.routes import ERRORS
from cloud.core.config import Settings
from cloud.messaging import receipts, views
from cloud.messaging.views import MessagePublic
from cloud.services.errors import Forbidden
from locker_contract.text import Text

router = APIRouter(prefix="/api/v1", responses=ERRORS)

RECEIPT_MAX = 8192  # bytes: a status callback is a few hundred
Key = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9a-f-]+$")]


@router.get("/banks/{bank_id}/messages", tags=["operators"])
def bank_messages(bank_id: Text, engine: EngineDep, who: CurrentPrincipal) -> list[MessagePublic]:
    """The bank's newest 200 messages to recipients: kind, state, tries, masked address."""
    return views.of_bank(engine, who, bank_id)


@router.get("/messages", tags=["carriers"])
def carrier_messages(
    engine: EngineDep, who: CurrentPrincipal, waybill: Text | None = None
) -> list[MessagePublic]:
    """The newest 200 messages telling of your parcels (of one waybill, if given)."""
    return views.of_carrier(engine, who, waybill)


def _token(settings: Settings) -> str:
    path = settings.sms_token_file
    if path is None or settings.sms_receipt_url is None:
        raise Forbidden("this cloud takes no delivery receipts")
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        raise Forbidden("this cloud takes no delivery receipts") from None


@router.post("/messages/receipts", status_code=204, tags=["gateway"])
async def receipt(
    request: Request,
    *,
    key: Key,
    engine: EngineDep,
    settings: SettingsDep,
    clock: ClockDep,
    signature: Annotated[str, Header(alias="X-Twilio-Signature", max_length=128)] = "",
) -> Response:
    """A delivery receipt (Twilio's status callback), signed with the gateway's token over
    the URL it was given (``sms_receipt_url?key=...``) and its form."""
    token = _token(settings)
    body = await request.body()
    params = dict(parse_qsl(body[:RECEIPT_MAX].decode("utf-8", "replace"), keep_blank_values=True))
    url = f"{settings.sms_receipt_url}?{urlencode({'key': key})}"
    if len(body) > RECEIPT_MAX or not receipts.genuine(token, url, params, signature):
        raise Forbidden("the receipt's signature does not match")
    status = params.get("MessageStatus", "")
    await run_in_threadpool(receipts.apply, engine, key, status, clock.now())
    return Response(status_code=204)
