"""``locker cloud``: keys managed from the command line, and a broker URL's password never
printed (refused with one line, not a traceback)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner, Result

from cloud.models import AuditEntry
from locker_cli.cloud import app
from tests.cloud.conftest import Cloud, bearer, fleet, secret

PASSWORD = "s3cret-Pa55word"


@pytest.fixture
def env(cloud: Cloud, monkeypatch: pytest.MonkeyPatch) -> Cloud:
    monkeypatch.setenv("LOCKER_CLOUD_DATABASE_URL", cloud.settings.database_url)
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", cloud.settings.secret_key)
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    return cloud


def locker(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def test_a_leaked_manager_key_is_revoked_from_the_command_line(env: Cloud) -> None:
    listed = locker("keys", "list", "--role", "manager")
    assert listed.exit_code == 0, listed.output
    (line,) = listed.stdout.splitlines()
    key_id, role, state, scope = line.split()[:4]
    assert (role, state, scope) == ("manager", "active", f"site={env.keys['site:maple']['id']}")
    assert "lk_" not in listed.output
    health = f"/api/v1/sites/{env.keys['site:maple']['id']}/health"
    env.ok("GET", health, env.keys["manager:maple"])
    revoked = locker("keys", "revoke", key_id)
    assert revoked.exit_code == 0, revoked.output
    assert env.call("GET", health, env.keys["manager:maple"]).status_code == 401
    assert locker("keys", "list", "--role", "manager").stdout == ""
    assert "revoked" in locker("keys", "list", "--role", "manager", "--all").stdout
    with Session(env.engine) as s:
        audited = s.exec(select(AuditEntry).where(AuditEntry.action == "revoke_key")).one()
    assert (audited.actor, audited.target) == ("locker-cli", key_id)


def test_keys_rotate_prints_the_new_key_once(env: Cloud) -> None:
    (line,) = locker("keys", "list", "--role", "carrier").stdout.splitlines()
    rotated = locker("keys", "rotate", line.split()[0])
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.stdout.strip()
    assert new_key.startswith("lk_")
    assert env.call("GET", "/api/v1/banks", env.keys["sf"]).status_code == 401
    env.ok("GET", "/api/v1/banks", bearer(new_key))
    again = locker("keys", "rotate", line.split()[0])
    assert again.exit_code == 1
    assert again.stderr.startswith("error: key ")
    assert locker("keys", "revoke", "no-such-key").stderr == "error: no such key\n"
    assert locker("keys", "list", "--role", "boss").exit_code == 2


@pytest.mark.parametrize("command", ["ingest", "serve", "purge"])
def test_a_broker_url_with_a_password_is_refused_and_never_printed(
    command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKER_CLOUD_DATABASE_URL", "sqlite://")
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", secret())
    monkeypatch.setenv("LOCKER_CLOUD_BROKER_URL", f"mqtt://cloud:{PASSWORD}@127.0.0.1:1883")
    result = locker(command)
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)  # a clear refusal, no traceback
    assert PASSWORD not in result.output
    assert PASSWORD not in result.stderr
    assert result.stderr.startswith("error: LOCKER_CLOUD_BROKER_URL: ")
    assert len(result.stderr.splitlines()) == 1
    assert "PASSWORD_FILE" in result.stderr
