"""``commit_then_raise``: an error the work returns is raised after its transaction commits; an
error it raises rolls the transaction back."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session

from controller.errors import Conflict, WrongCode
from controller.flows.context import commit_then_raise
from controller.store import get_setting, open_store, put_setting, transaction


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = open_store(tmp_path / "edge.db")
    yield engine
    engine.dispose()


def stored(engine: Engine) -> str:
    with transaction(engine) as s:
        return get_setting(s, "counted")


def test_a_returned_error_is_raised_after_what_the_work_wrote_commits(engine: Engine) -> None:
    def count_then_refuse(s: Session) -> str | WrongCode:
        put_setting(s, "counted", "1")
        return WrongCode("that code opens nothing here")

    with pytest.raises(WrongCode):
        commit_then_raise(engine, count_then_refuse)
    assert stored(engine) == "1"


def test_a_raised_error_rolls_back_and_a_result_is_returned(engine: Engine) -> None:
    def refuse_outright(s: Session) -> str | WrongCode:
        put_setting(s, "counted", "1")
        raise Conflict("does not fit")

    with pytest.raises(Conflict):
        commit_then_raise(engine, refuse_outright)
    assert stored(engine) == ""

    def succeed(s: Session) -> str | WrongCode:
        put_setting(s, "counted", "2")
        return "opened"

    assert commit_then_raise(engine, succeed) == "opened"
    assert stored(engine) == "2"
