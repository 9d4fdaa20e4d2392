"""Notices written before the notifier: after the upgrade, one with its sealed code still there
goes out, telling its compartment; one whose code is gone is cancelled, never sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from cloud.core.db import make_engine
from cloud.core.migrate import upgrade
from cloud.messaging.states import MessageState
from cloud.messaging.tables import NotificationParcel
from cloud.models import Notification
from locker_contract import sealing
from tests.cloud.messaging.conftest import PUBLIC, START, Rig, dispatcher
from tests.conftest import postgres_database

FLEET = [
    "INSERT INTO operator (id, name) VALUES ('op', 'Op')",
    "INSERT INTO site (id, operator_id, name, address, lat, lon, timezone) "
    "VALUES ('site', 'op', 'Site', '2 Elm St', 0, 0, 'Asia/Shanghai')",
    "INSERT INTO bank (id, site_id, name) VALUES ('b-1', 'site', 'Elm, block 1')",
    "INSERT INTO carrier (id, name) VALUES ('sf', 'SF Express')",
    "INSERT INTO compartment (id, bank_id, label, size, size_rank, low, in_service) "
    "VALUES ('c-1', 'b-1', 'A07', 'M', 2, false, true)",
    "INSERT INTO parcel (id, carrier_id, waybill, bank_id, recipient_phone, consent, status, "
    "compartment_id, created_at) VALUES ('p-1', 'sf', 'SF1', 'b-1', '13800138000', 'app', "
    "'in_locker', 'c-1', :now)",
]
NOTICE = (
    "INSERT INTO notification (id, event_id, bank_id, carrier_id, waybill, recipient_phone, text, "
    "sealed_code, created_at) VALUES (:id, :id, 'b-1', 'sf', 'SF1', '13800138000', "
    "'Pickup code: {code}', :sealed, :now)"
)


@pytest.fixture
def old_url(rig: Rig, tmp_path: Path) -> Iterator[str]:
    """A database of its own, of the rig's kind, to upgrade from before the notifier."""
    if rig.settings.database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'old.db'}"
    else:
        yield from postgres_database()


async def test_old_notices_go_out_with_their_compartment_or_are_cancelled(
    rig: Rig, old_url: str
) -> None:
    url = old_url
    upgrade(url, "0005")
    engine = make_engine(url)
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), "31415926")
    with engine.begin() as conn:
        for statement in FLEET:
            conn.execute(text(statement), {"now": START})
        rows: list[dict[str, object]] = [
            {"id": "n-1", "sealed": sealed, "now": START},
            {"id": "n-2", "sealed": None, "now": START},
        ]
        conn.execute(text(NOTICE), rows)
    upgrade(url)
    with Session(engine) as s:
        states = {n.id: n.state for n in s.exec(select(Notification))}
        [told] = s.exec(
            select(NotificationParcel).where(NotificationParcel.notification_id == "n-1")
        )
    assert states == {"n-1": MessageState.QUEUED, "n-2": MessageState.CANCELLED}
    assert told.compartment == "A07"
    rig.clock.advance(60)
    assert await dispatcher(engine, rig.settings, rig.clock).pass_once() == 1
    [request] = rig.gateway.requests
    assert "格口A07，取件码31415926" in request["Body"]
    engine.dispose()
