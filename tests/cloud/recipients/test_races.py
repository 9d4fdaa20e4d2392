"""Two submits of one action from a recipient's page at once (a double tap, two tabs): the
group's actions are decided one after the other, so the second is refused (409) as it would be
afterwards: never a second active shared code, never a unique-key error (a 500).

PostgreSQL only: SQLite's ``BEGIN IMMEDIATE`` already serialises every writer."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, col, select

from cloud.recipients import service
from cloud.recipients.tables import GroupAction, RecipientShare
from cloud.services.errors import Conflict
from tests.cloud.recipients.conftest import Group
from tests.waiting import wait_until

WAITING = text(
    "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
    " WHERE NOT l.granted AND a.datname = current_database()"
)


def _actions(group: Group) -> dict[str, tuple[Callable[[], object], str]]:
    """Each action, and the step after its check where the first submit is held."""
    engine, settings, now = group.engine, group.cloud.settings, datetime.now(UTC)
    return {
        "share": (lambda: service.share(engine, settings, group.group_id, now), "enqueue_command"),
        "extend": (lambda: service.extend(engine, group.group_id, now), "_act"),
    }


@pytest.mark.parametrize("action", ["share", "extend"])
def test_two_submits_at_once_act_once(
    group: Group, action: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if group.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers with BEGIN IMMEDIATE")
    held, release = threading.Event(), threading.Event()
    run, step = _actions(group)[action]
    original = getattr(service, step)

    def first_waits(*args: Any, **kwargs: Any) -> Any:
        row = original(*args, **kwargs)
        if not held.is_set():  # the first submit holds its transaction open here
            held.set()
            release.wait(30)
        return row

    monkeypatch.setattr(service, step, first_waits)
    outcomes: list[object] = []

    def submit() -> None:
        try:
            outcomes.append(run())
        except Exception as exc:  # what the second submit met, judged below
            outcomes.append(exc)

    first = threading.Thread(target=submit)
    first.start()
    wait_until(held.is_set, what="the first submit inside its transaction")
    second = threading.Thread(target=submit)
    second.start()

    def second_done_or_waiting() -> bool:
        if not second.is_alive():
            return True
        with group.engine.connect() as connection:
            return bool(connection.execute(WAITING).scalar_one())

    wait_until(second_done_or_waiting, what="the second submit done or waiting on a lock")
    release.set()
    first.join(30)
    second.join(30)
    errors = [o for o in outcomes if isinstance(o, Exception)]
    assert len(outcomes) == 2, outcomes
    assert len(errors) == 1, outcomes
    assert isinstance(errors[0], Conflict), repr(errors[0])
    with Session(group.engine) as s:
        shares = s.exec(select(RecipientShare).where(col(RecipientShare.revoked_at).is_(None)))
        actions = s.exec(select(GroupAction).where(GroupAction.kind == action))
        assert len(list(shares) if action == "share" else list(actions)) == 1
    assert len(group.commands(f"group.{action}")) == 1
