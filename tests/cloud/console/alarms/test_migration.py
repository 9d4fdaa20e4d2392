"""Migration 0009: alarms open before it are not escalated in a burst once it is applied."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from cloud.core.db import make_engine
from cloud.core.migrate import upgrade

RAISED = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def test_alarms_open_before_the_migration_count_as_escalated(database_url: str) -> None:
    upgrade(database_url, "0008")
    engine = make_engine(database_url)
    try:
        with engine.begin() as db:
            db.execute(text("INSERT INTO operator (id, name) VALUES ('o', 'O')"))
            db.execute(text("INSERT INTO site (id, operator_id, name, address, lat, lon, timezone)"
                            " VALUES ('s', 'o', 'S', '', 0, 0, 'UTC')"))  # fmt: skip
            db.execute(
                text("INSERT INTO bank (id, site_id, name, online) VALUES ('b', 's', 'B', false)")
            )
            for n, cleared in ((1, None), (2, RAISED)):
                db.execute(
                    text("INSERT INTO alarm (id, bank_id, kind, compartment, raised_at, cleared_at)"
                         " VALUES (:id, 'b', 'bank.offline', :where, :raised, :cleared)"),
                    {"id": f"a{n}", "where": f"w{n}", "raised": RAISED, "cleared": cleared},
                )  # fmt: skip
        upgrade(database_url)
        with engine.connect() as db:
            query = (
                "SELECT id, escalated_at IS NULL, escalated_at = raised_at FROM alarm ORDER BY id"
            )
            rows = [tuple(row) for row in db.execute(text(query))]
    finally:
        engine.dispose()
    assert rows == [("a1", False, True), ("a2", True, None)]  # open: stamped; cleared: left
