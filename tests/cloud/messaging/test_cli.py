"""``locker cloud notify``: one pass through the development outbox; refused without its key or
a channel."""

from __future__ import annotations

import uuid
from pathlib import Path

from typer.testing import CliRunner

from cloud.messaging.channels import read_outbox
from locker_cli.main import app as locker_app
from tests.cloud.messaging.conftest import PRIVATE, Rig


def env(rig: Rig, tmp_path: Path, **extra: str) -> dict[str, str]:
    key = tmp_path / "notify.key"
    if not key.exists():
        key.write_text(PRIVATE + "\n")
        key.chmod(0o600)
    return {
        "LOCKER_CLOUD_DATABASE_URL": rig.settings.database_url,
        "LOCKER_CLOUD_SECRET_KEY": rig.settings.secret_key,
        "LOCKER_CLOUD_NOTIFY_CHANNEL": "outbox",
        "LOCKER_CLOUD_NOTIFY_OUTBOX_DIR": str(tmp_path / "outbox"),
        "LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE": str(key),
    } | extra


def test_one_pass_writes_the_message_to_the_outbox(rig: Rig, tmp_path: Path) -> None:
    rig.bank.deposit("SF1008611", "A03", uuid.uuid4(), "40962048")  # long ago, by the clock
    done = CliRunner().invoke(locker_app, ["cloud", "notify", "--once"], env=env(rig, tmp_path))
    assert done.exit_code == 0, done.output
    assert "claimed 1 message(s)" in done.output
    [message] = read_outbox(tmp_path / "outbox")
    assert message.startswith("To: 13800138000\nSubject: 您的快递已存入Maple Court, block 3\n")
    assert "取件码40962048" in message
    assert "40962048" not in done.output
    [written] = (tmp_path / "outbox").glob("*.txt")
    assert (written.stat().st_mode & 0o777, written.parent.stat().st_mode & 0o777) == (0o600, 0o700)


def test_without_its_key_or_a_channel_the_notifier_does_not_start(rig: Rig, tmp_path: Path) -> None:
    runner = CliRunner()
    missing = env(rig, tmp_path, LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE=str(tmp_path / "none"))
    done = runner.invoke(locker_app, ["cloud", "notify", "--once"], env=missing)
    assert (done.exit_code, "cannot read" in done.output) == (2, True)
    unset = env(rig, tmp_path)
    del unset["LOCKER_CLOUD_NOTIFY_CHANNEL"]
    done = runner.invoke(locker_app, ["cloud", "notify", "--once"], env=unset)
    assert (done.exit_code, "NOTIFY_CHANNEL" in done.output) == (2, True)
    gateway = env(rig, tmp_path, LOCKER_CLOUD_NOTIFY_CHANNEL="gateway")
    done = runner.invoke(locker_app, ["cloud", "notify", "--once"], env=gateway)
    assert (done.exit_code, "SMS_ENDPOINT" in done.output) == (2, True)
