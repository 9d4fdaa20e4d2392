"""Recipients' messages: the code is opened only with the notifier's private key, the key pair
comes from ``locker cloud keygen-notify``, and an upgrade leaves no plain code in old notices."""

from __future__ import annotations

import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session, select
from typer.testing import CliRunner

from cloud.core.db import make_engine
from cloud.core.migrate import upgrade
from cloud.models import Notification
from cloud.services.errors import Conflict
from cloud.services.notices import CODE_PLACEHOLDER, notify_private_key, open_notification
from locker_cli.main import app as locker_app
from locker_contract import sealing

PUBLIC, PRIVATE = sealing.new_key_pair()


def notice(sealed: str | None, template: str = f"Pickup code: {CODE_PLACEHOLDER}.") -> Notification:
    return Notification(
        event_id="e-1", bank_id="b-1", carrier_id="sf", waybill="SF1",
        recipient_phone="13800138000", text=template, sealed_code=sealed,
    )  # fmt: skip


def test_the_private_key_opens_the_code_into_the_message() -> None:
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), "12345678")
    opened = open_notification(notice(sealed), sealing.private_key(PRIVATE))
    assert opened == "Pickup code: 12345678."


def test_another_key_a_purged_code_or_no_placeholder_opens_nothing() -> None:
    sealed = sealing.seal_code(sealing.public_key(PUBLIC), "12345678")
    other = sealing.private_key(sealing.new_key_pair()[1])
    with pytest.raises(Conflict, match="does not open"):
        open_notification(notice(sealed), other)
    with pytest.raises(Conflict, match="purged"):
        open_notification(notice(None), sealing.private_key(PRIVATE))
    with pytest.raises(Conflict, match="no place"):
        open_notification(notice(sealed, "Pickup code: 12345678"), sealing.private_key(PRIVATE))


def test_the_private_key_comes_from_a_file_named_in_the_settings(tmp_path: Path) -> None:
    with pytest.raises(Conflict, match="NOTIFY_PRIVATE_KEY_FILE"):
        notify_private_key(None)
    with pytest.raises(Conflict, match="cannot read"):
        notify_private_key(tmp_path / "missing.key")
    (tmp_path / "notify.key").write_text(PRIVATE + "\n")
    assert bytes(notify_private_key(tmp_path / "notify.key")) == bytes(sealing.private_key(PRIVATE))


def test_keygen_prints_the_public_key_and_keeps_the_private_one_to_its_owner(
    tmp_path: Path,
) -> None:
    path = tmp_path / "notify.key"
    done = CliRunner().invoke(
        locker_app, ["cloud", "keygen-notify", "--private-key-file", str(path)]
    )
    assert done.exit_code == 0, done.output
    public = done.output.strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = sealing.seal_code(sealing.public_key(public), "87654321")
    assert sealing.open_code(sealing.read_private_key(path), sealed) == "87654321"
    again = CliRunner().invoke(
        locker_app, ["cloud", "keygen-notify", "--private-key-file", str(path)]
    )
    assert again.exit_code == 2  # a key is never overwritten
    assert "cannot create" in again.output
    assert sealing.open_code(sealing.read_private_key(path), sealed) == "87654321"


def test_the_upgrade_leaves_no_plain_code_in_old_notices(database_url: str) -> None:
    upgrade(database_url, "0003")
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO operator (id, name) VALUES ('op', 'Op')"))
        conn.execute(text("INSERT INTO site (id, operator_id, name, address, lat, lon) "
                          "VALUES ('site', 'op', 'Site', '', 0, 0)"))  # fmt: skip
        conn.execute(text("INSERT INTO bank (id, site_id, name) VALUES ('b-1', 'site', 'B')"))
        conn.execute(
            text("INSERT INTO notification (id, event_id, bank_id, carrier_id, waybill, "
                 "recipient_phone, text, created_at) VALUES (:id, :id, 'b-1', 'sf', 'SF1', "
                 "'13800138000', :text, :now)"),
            [{"id": "n-1", "text": "Your parcel is in A03. Pickup code: 12345678", "now": now},
             {"id": "n-2", "text": "Your parcel is in A04. Pickup code: (used)", "now": now}],
        )  # fmt: skip
    upgrade(database_url)
    with Session(engine) as s:
        notices = {n.id: n for n in s.exec(select(Notification))}
    engine.dispose()
    assert notices["n-1"].text == "Your parcel is in A03. Pickup code: {code}"
    assert notices["n-2"].text == "Your parcel is in A04. Pickup code: {code}"
    assert [n.sealed_code for n in notices.values()] == [None, None]
