"""``locker edge expect --class``: a waybill announced at the bank itself, with its class."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select
from typer.testing import CliRunner

from controller.cold.tables import AnnouncedClass
from controller.store import open_store
from locker_cli.main import app
from tests.controller.cold.conftest import bank_toml


def test_expect_with_a_class_remembers_it_and_a_bad_class_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(bank_toml(), encoding="utf-8")
    base = ["edge", "--config", str(path), "expect", "--waybill", "JD1", "--carrier", "jd",
            "--phone", "13900139000", "--consent", "recipient_app"]  # fmt: skip
    done = CliRunner().invoke(app, [*base, "--class", "chilled"])
    assert done.exit_code == 0, done.output
    refused = CliRunner().invoke(app, [*base, "--class", "tepid"])
    assert refused.exit_code == 2
    engine = open_store(tmp_path / "edge.db")
    try:
        with Session(engine) as s:
            rows = s.exec(select(AnnouncedClass)).all()
        assert [(r.carrier, r.waybill, r.temperature_class) for r in rows] == [
            ("jd", "JD1", "chilled")
        ]
    finally:
        engine.dispose()
