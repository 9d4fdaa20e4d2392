"""A fleet for the alarms' and door health's tests, on SQLite and PostgreSQL.

Operator "Estates" has bank ``maple`` (A01-A04, M) at one site and bank ``oak`` (A01-A02) at
another; operator "Other" has bank ``pine``. People (console accounts made as rows): Estates' admin
Ada, Maple's site manager Mo (``oak``'s site has no manager: its alarms go to the admins), and
Other's admin Olga. Events reach the cloud through ingest, stamped with the bank's time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from cloud.console.accounts.deps import Person, load_person
from cloud.console.accounts.tables import Account, PersonRole, PersonSite
from cloud.core.db import transaction
from cloud.models import Site
from cloud.services.ingest import ingest_batch, ingest_event
from locker_contract.events import Envelope, Event
from tests.cloud.conftest import Cloud, build_cloud, fleet

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@dataclass
class World:
    cloud: Cloud
    engine: Engine
    sites: dict[str, str]  # bank -> its site
    people: dict[str, str] = field(default_factory=dict)  # name -> person id
    seqs: dict[str, int] = field(default_factory=dict)

    def send(
        self, bank: str, event: Event, at: datetime, *, event_id: uuid.UUID | None = None
    ) -> Envelope:
        """``event`` from ``bank``, happened and ingested at ``at``."""
        self.seqs[bank] = self.seqs.get(bank, 0) + 1
        envelope = Envelope(
            event_id=event_id or uuid.uuid4(), bank_id=bank, seq=self.seqs[bank], time=at,
            event=event,
        )  # fmt: skip
        ingest_event(self.engine, envelope, at)
        return envelope

    def send_all(self, items: list[tuple[str, Event, datetime]]) -> None:
        """Many events, of any banks, in one batch (ingested at the last one's time)."""
        envelopes = []
        for bank, event, when in items:
            self.seqs[bank] = self.seqs.get(bank, 0) + 1
            envelopes.append(Envelope(event_id=uuid.uuid4(), bank_id=bank, seq=self.seqs[bank],
                                      time=when, event=event))  # fmt: skip
        ingest_batch(self.engine, envelopes, max(when for _, _, when in items))

    def person(self, name: str) -> Person:
        with Session(self.engine) as s:
            found = load_person(s, self.people[name])
        assert found is not None
        return found

    def add_person(self, name: str, role: PersonRole, operator_id: str, *banks: str) -> None:
        with transaction(self.engine) as s:
            row = Account(email=f"{name.lower()}@example.com", name=name, role=role,
                          operator_id=operator_id)  # fmt: skip
            s.add(row)
            s.flush()
            for bank in banks:
                s.add(PersonSite(person_id=row.id, site_id=self.sites[bank]))
            self.people[name] = row.id


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    for cloud in build_cloud(database_url):
        fleet(cloud, {"maple": {"M": 4}, "oak": {"M": 2}})
        fleet(cloud, {"pine": {"M": 2}}, carriers=())
        engine: Engine = cloud.engine
        sites = {bank: cloud.keys[f"site:{bank}"]["id"] for bank in ("maple", "oak", "pine")}
        w = World(cloud, engine, sites)
        with Session(engine) as s:
            owners = dict(s.exec(select(Site.id, Site.operator_id)).all())
        estates, other = owners[sites["maple"]], owners[sites["pine"]]
        w.add_person("Ada", PersonRole.OPERATOR_ADMIN, estates)
        w.add_person("Mo", PersonRole.SITE_MANAGER, estates, "maple")
        w.add_person("Olga", PersonRole.OPERATOR_ADMIN, other)
        yield w
