"""``locker cloud webhooks``: the sender from the command line, its allow-list from the
environment."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from locker_cli.cloud import app
from tests.cloud.conftest import secret
from tests.cloud.webhooks.conftest import World
from tests.cloud.webhooks.receiver import Receiver


def test_one_round_from_the_command_line(
    world: World, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCKER_CLOUD_DATABASE_URL", world.cloud.settings.database_url)
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", world.cloud.settings.secret_key)
    world.endpoint("sf", receiver)
    world.deposit("SF1", "A01")
    monkeypatch.setenv("LOCKER_CLOUD_WEBHOOK_ALLOW", '["127.0.0.0/8"]')
    sent = CliRunner().invoke(app, ["webhooks", "--once"])
    assert sent.exit_code == 0, sent.output
    assert "attempted 1 deliveries" in sent.output
    assert receiver.types() == {"parcel.in_locker"}


def test_a_malformed_allow_list_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCKER_CLOUD_SECRET_KEY", secret())
    monkeypatch.setenv("LOCKER_CLOUD_WEBHOOK_ALLOW", '["not-a-network"]')
    answer = CliRunner().invoke(app, ["webhooks", "--once"])
    assert answer.exit_code == 2
