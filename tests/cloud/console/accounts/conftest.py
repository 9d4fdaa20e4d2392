"""The console's accounts on SQLite and PostgreSQL: the cloud's app over HTTPS (the session
cookie is Secure), a clock the tests move, an operator with two sites, another operator's site,
and people made through the service as an invitation would make them."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx2 import Response
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlmodel import Session

from cloud.clock import FixedClock
from cloud.console.accounts import links, passwords, people
from cloud.console.accounts.tables import LinkPurpose, PersonRole
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.main import create_app
from cloud.models import Operator, Site
from locker_contract import sealing
from tests.databases import migrated

START = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
BASE = "https://testserver"
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


@dataclass
class Console:
    app: FastAPI
    client: TestClient
    clock: FixedClock
    settings: Settings
    notify_private: str
    operator: str = "estates"
    sites: tuple[str, ...] = ("maple", "birch")
    other_site: str = "elm"  # another operator's
    made: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.app.state.engine

    def person(
        self,
        email: str,
        role: PersonRole = PersonRole.SITE_MANAGER,
        sites: frozenset[str] = frozenset({"maple"}),
        password: str = PASSWORD,
    ) -> str:
        """A person as an accepted invitation leaves it; its id."""
        now = self.clock.now()
        new = people.NewPerson(email, email.split("@", maxsplit=1)[0], role, self.operator, sites)
        with transaction(self.engine) as s:
            row = people.create_person(s, new, now)
            token = links.issue(s, self.settings.secret_key, row.id, LinkPurpose.INVITE, now)
        people.set_password(self.engine, self.settings.secret_key, token, password, now)
        self.made[email] = row.id
        return row.id

    def csrf(self, path: str = "/console/sign-in") -> str:
        """The CSRF token a page of ``path`` carries (which also sets the pre-session cookie)."""
        page = self.client.get(path)
        found = CSRF.search(page.text)
        assert found, page.text
        return found.group(1)

    def sign_in(self, email: str, password: str = PASSWORD, **form: str) -> Response:
        token = self.csrf()
        body = {"email": email, "password": password, "csrf_token": token} | form
        return self.client.post("/console/sign-in", data=body)


def build_console(database_url: str) -> Iterator[Console]:
    public, private = sealing.new_key_pair()
    settings = Settings(
        database_url=database_url,
        secret_key=secrets.token_hex(32),
        notify_public_key=public,
        recipient_base_url=BASE,
    )
    migrated(database_url)
    clock = FixedClock(START)
    app = create_app(settings, clock)
    try:
        with Session(app.state.engine) as s:
            s.add(Operator(id="estates", name="Estates Ltd"))
            s.add(Operator(id="rival", name="Rival Homes"))
            s.flush()
            for site, owner in (("maple", "estates"), ("birch", "estates"), ("elm", "rival")):
                s.add(Site(id=site, operator_id=owner, name=site.title(), lat=31.2, lon=121.4))
            s.commit()
        with TestClient(app, base_url=BASE, follow_redirects=False) as client:
            yield Console(app, client, clock, settings, private)
    finally:
        app.state.engine.dispose()


FAST = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Argon2id still, at a cost two shared cores can bear for many sign-ins (production keeps
    pwdlib's recommended 64 MiB and 3 passes; test_passwords checks those)."""
    monkeypatch.setattr(passwords, "hasher", lambda: FAST)
    passwords.decoy.cache_clear()
    yield
    passwords.decoy.cache_clear()


@pytest.fixture
def console(database_url: str, cheap_argon2: None) -> Iterator[Console]:
    yield from build_console(database_url)
