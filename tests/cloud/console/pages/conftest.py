"""The console's pages over HTTPS on SQLite and PostgreSQL: the accounts' console (operator
"estates" with sites maple and birch, operator "rival" with elm), a bank at each site, two
carriers, and people signed in each in their own browser (a TestClient with its own cookies).
Bank events arrive through ``ingest_event``, the service the ingest process runs."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from cloud.console.accounts import links, people
from cloud.console.accounts.tables import LinkPurpose, PersonRole
from cloud.core.db import transaction
from cloud.models import Bank, Carrier, Compartment
from cloud.services.ingest import ingest_event
from locker_contract.events import Envelope, Event, ParcelDeposited
from tests.cloud.console.accounts.conftest import BASE, PASSWORD, Console, build_console

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')
BANKS = {"maple-1": "maple", "birch-1": "birch", "elm-1": "elm"}  # bank -> its site
LABELS = ("A01", "A02", "A03", "A04")


@dataclass
class Pages:
    console: Console
    seqs: dict[str, int] = field(default_factory=dict)
    browsers: list[TestClient] = field(default_factory=list)

    @property
    def engine(self) -> object:
        return self.console.engine

    def now(self) -> datetime:
        return self.console.clock.now()

    def send(self, bank: str, event: Event) -> None:
        """One bank event, through the service the ingest process runs."""
        self.seqs[bank] = self.seqs.get(bank, 0) + 1
        envelope = Envelope(
            event_id=uuid.uuid4(),
            bank_id=bank,
            seq=self.seqs[bank],
            time=self.now(),
            event=event,
        )
        assert (
            ingest_event(self.console.engine, envelope, self.now()).applied_seq == self.seqs[bank]
        )

    def deposit(self, bank: str, waybill: str, label: str, phone: str, carrier: str = "sf") -> None:
        self.send(
            bank,
            ParcelDeposited(
                parcel_id=uuid.uuid5(uuid.NAMESPACE_URL, waybill),
                waybill=waybill,
                carrier=carrier,
                courier_id=f"{carrier}-c1",
                compartment=label,
                recipient_phone=phone,
                group_id=uuid.uuid4(),
                sealed_code=None,
                consent="recipient_app",
                flagged_for_review=False,
            ),
        )

    def person(
        self,
        email: str,
        role: PersonRole = PersonRole.SITE_MANAGER,
        sites: frozenset[str] = frozenset({"maple"}),
        operator: str = "estates",
    ) -> str:
        now = self.now()
        new = people.NewPerson(
            email, email.split("@", maxsplit=1)[0].title(), role, operator, sites
        )
        with transaction(self.console.engine) as s:
            row = people.create_person(s, new, now)
            token = links.issue(
                s, self.console.settings.secret_key, row.id, LinkPurpose.INVITE, now
            )
        people.set_password(
            self.console.engine, self.console.settings.secret_key, token, PASSWORD, now
        )
        return row.id

    def browser(self, email: str) -> TestClient:
        """A new browser, signed in as ``email``."""
        client = TestClient(self.console.app, base_url=BASE, follow_redirects=False)
        client.__enter__()
        self.browsers.append(client)
        token = csrf(client.get("/console/sign-in").text)
        body = {"email": email, "password": PASSWORD, "csrf_token": token}
        answer = client.post("/console/sign-in", data=body)
        assert answer.status_code == 303, answer.text
        return client


def csrf(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


@pytest.fixture
def pages(database_url: str) -> Iterator[Pages]:
    for console in build_console(database_url):
        with Session(console.engine) as s:
            s.add(Carrier(id="sf", name="SF"))
            s.add(Carrier(id="jd", name="JD"))
            for bank, site in BANKS.items():
                s.add(Bank(id=bank, site_id=site, name=bank.title()))
                s.flush()
                for label in LABELS:
                    s.add(Compartment(bank_id=bank, label=label, size="M", size_rank=2))
            s.commit()
        made = Pages(console)
        try:
            yield made
        finally:
            for client in made.browsers:
                client.__exit__(None, None, None)
