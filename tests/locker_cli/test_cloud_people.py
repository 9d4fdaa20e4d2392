"""``locker cloud create-admin --email --operator``, ``invite`` and ``reset-link``: the first
console person and development links, printed once and working once; no password anywhere on
the command line."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from cloud.clock import SystemClock
from cloud.console.accounts import people
from cloud.console.accounts.errors import LinkUnusable
from cloud.console.accounts.tables import Account
from cloud.core.db import make_engine, transaction
from cloud.models import Operator, Site
from locker_cli.cloud import app

LINK = re.compile(r"^https://lockers\.example\.org/console/password#([A-Za-z0-9_-]+)$", re.M)
PASSWORD = "the first admin's sentence"


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    monkeypatch.setenv("LOCKER_CLOUD_DATABASE_URL", url)
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("LOCKER_CLOUD_RECIPIENT_BASE_URL", "https://lockers.example.org")
    return url


def locker(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def token_of(result: Result) -> str:
    assert result.exit_code == 0, result.output
    found = LINK.search(result.stdout)
    assert found, result.stdout
    return found.group(1)


def use(url: str, token: str, password: str = PASSWORD) -> None:
    from cloud.core.config import Settings

    engine = make_engine(url)
    try:
        people.set_password(engine, Settings().secret_key, token, password, SystemClock().now())
    finally:
        engine.dispose()


def test_create_admin_makes_the_key_and_the_first_person(database: str) -> None:
    made = locker("create-admin", "--email", "Boss@Example.org", "--operator", "Estates Ltd")
    token = token_of(made)
    assert made.stdout.splitlines()[0].startswith("lk_")  # the API key, as before
    use(database, token)
    engine = make_engine(database)
    try:
        with transaction(engine) as s:
            person = s.exec(select(Account)).one()
            operator = s.exec(select(Operator)).one()
        assert (person.email, person.role, person.operator_id) == (
            "boss@example.org",
            "operator_admin",
            operator.id,
        )
        assert operator.name == "Estates Ltd"
        assert person.password_hash.startswith("$argon2id$")
    finally:
        engine.dispose()
    with pytest.raises(LinkUnusable):
        use(database, token)  # once only
    assert locker("create-admin", "--email", "x@example.org").exit_code == 2  # both or neither
    assert locker("create-admin").exit_code == 0  # a key alone, as ever


def test_invite_and_reset_link_print_working_links(database: str) -> None:
    token_of(locker("create-admin", "--email", "boss@example.org", "--operator", "Estates"))
    engine = make_engine(database)
    try:
        with transaction(engine) as s:
            operator = s.exec(select(Operator)).one()
            s.add(Site(id="maple", operator_id=operator.id, name="Maple", lat=31.2, lon=121.4))
    finally:
        engine.dispose()
    invited = locker(
        "invite", "--email", "ann@example.org", "--operator", "Estates", "--site", "maple"
    )
    use(database, token_of(invited))
    use(
        database,
        token_of(locker("reset-link", "--email", "ann@example.org")),
        "a new sentence here",
    )
    unknown = locker("reset-link", "--email", "nobody@example.org")
    assert unknown.exit_code == 1
    assert "No account has this e-mail" in unknown.output
    taken = locker(
        "invite", "--email", "ann@example.org", "--operator", "Estates", "--site", "maple"
    )
    assert taken.exit_code == 1
    assert locker("invite", "--email", "b@example.org", "--operator", "Estates").exit_code == 1
