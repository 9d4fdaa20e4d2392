"""The live stream: fingerprints that move with what the pages show (and only for the
person's sites), a stream that tells each move once, beats, and ends with its session."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import anyio
import pytest
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from cloud.console import live
from cloud.console.accounts import sessions
from cloud.console.accounts.deps import SESSION_COOKIE, load_person
from cloud.console.accounts.tables import PersonRole
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import Alarm, Bank
from cloud.services.commands import record_ack
from locker_contract.events import DoorClosed, DoorForcedOpen
from locker_contract.messages import CommandAck
from tests.cloud.console.pages.conftest import Pages, csrf


def prints_of(pages: Pages, person_id: str) -> live.Prints:
    with transaction(pages.console.engine) as s:
        person = load_person(s, person_id)
        assert person is not None
        return live.fingerprints(s, person, pages.now())


def test_the_fingerprints_move_with_the_persons_sites_only(pages: Pages) -> None:
    ann = pages.person("ann@example.org")  # maple
    first = prints_of(pages, ann)
    pages.send("birch-1", DoorForcedOpen(compartment="A01"))  # another site of the operator
    pages.send("elm-1", DoorForcedOpen(compartment="A01"))  # another operator's
    assert prints_of(pages, ann) == first
    pages.send("maple-1", DoorForcedOpen(compartment="A01"))
    raised = prints_of(pages, ann)
    assert raised["alarms"] != first["alarms"]
    assert raised["commands"] == first["commands"]
    with Session(pages.console.engine) as s:
        bank = s.get_one(Bank, "maple-1")
        bank.online, bank.status_since = True, pages.now()
        s.add(bank)
        s.commit()
    assert prints_of(pages, ann)["banks"] != raised["banks"]


def test_a_command_moves_its_topic_when_asked_and_when_answered(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann_id = pages.person("bob@example.org", PersonRole.OPERATOR_ADMIN)
    bob = pages.browser("bob@example.org")
    before = prints_of(pages, ann_id)
    confirm = bob.get("/console/banks/maple-1/confirm?action=keypad")
    sent = bob.post(
        "/console/banks/maple-1/actions/keypad", data={"csrf_token": csrf(confirm.text)}
    )
    assert sent.status_code == 303
    asked = prints_of(pages, ann_id)
    assert asked["commands"] != before["commands"]
    command_id = sent.headers["location"].split("command=")[1].split("#")[0]
    ack = CommandAck(command_id=command_id, outcome="applied", edge_time=pages.now())
    record_ack(pages.console.engine, "maple-1", ack)
    assert prints_of(pages, ann_id)["commands"] != asked["commands"]


def test_watching_ends_with_the_session(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    token = ann.cookies[SESSION_COOKIE]
    secret, engine = pages.console.settings.secret_key, pages.console.engine
    assert live.watched(engine, secret, token, pages.now()) is not None
    assert live.watched(engine, secret, "not a session", pages.now()) is None
    pages.console.clock.advance(sessions.IDLE_TIMEOUT.total_seconds() + 1)
    assert live.watched(engine, secret, token, pages.now()) is None  # a stream is no activity


class Browser:
    def __init__(self, polls_before_leaving: int = 1000) -> None:
        self.left = polls_before_leaving

    async def is_disconnected(self) -> bool:
        self.left -= 1
        return self.left < 0


def looks(*answers: live.Prints | None) -> Iterator[live.Prints | None]:
    yield from answers


async def read(stream: live.Stream, browser: Browser) -> list[str]:
    return [message async for message in stream.messages(browser)]


def a_stream(*answers: live.Prints | None) -> live.Stream:
    answered = looks(*answers)
    settings = Settings(
        database_url="sqlite://",
        secret_key=secrets.token_hex(32),
        console_live_poll_s=0.001,
        console_live_heartbeat_s=0.002,
    )
    told = {"alarms": "a0", "commands": "c0", "banks": "b0"}
    return live.Stream(lambda: next(answered), told, settings, anyio.current_time())


async def test_a_stream_tells_each_move_once_beats_and_ends_when_signed_out() -> None:
    same = {"alarms": "a0", "commands": "c0", "banks": "b0"}
    moved = same | {"alarms": "a1"}
    stream = a_stream(same, moved, moved, moved | {"banks": "b1"}, None)
    messages = await read(stream, Browser())
    assert messages[0] == f"retry: {live.RETRY_MS}\n\n"
    events = [m for m in messages if m.startswith("id:")]
    assert events == [
        "id: a1.c0.b0\nevent: alarms\ndata: a1\n\n",
        "id: a1.c0.b1\nevent: banks\ndata: b1\n\n",
    ]
    assert ": alive\n\n" in messages
    assert messages[-1] == "event: ended\ndata: signed-out\n\n"


async def test_a_stream_stops_when_the_browser_leaves() -> None:
    same = {"alarms": "a0", "commands": "c0", "banks": "b0"}
    stream = a_stream(*([same] * 10))
    assert len(await read(stream, Browser(polls_before_leaving=2))) < 5


def test_a_reconnection_is_told_what_moved_meanwhile() -> None:
    told = live.marked("a0.c0.b0")
    assert told == {"alarms": "a0", "commands": "c0", "banks": "b0"}
    assert live.marked("garbage") == {}
    assert live.marked(None) == {}


def test_a_person_holds_a_bounded_number_of_streams(pages: Pages) -> None:
    person_id = pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    streams = live.Streams()
    with streams.hold("p", 2) as one, streams.hold("p", 2) as two, streams.hold("p", 2) as three:
        assert (one, two, three) == (True, True, False)
        assert streams.full("p", 2)
    assert not streams.full("p", 2)
    assert streams.held == {}
    app = pages.console.app
    most = pages.console.settings.console_live_per_person
    app.state.console_streams = live.Streams()
    app.state.console_streams.held[person_id] = most
    answer = ann.get("/console/live", headers={"Accept": "text/event-stream"})
    assert answer.status_code == 429


@pytest.mark.parametrize("closed", [False, True])
def test_a_door_closed_elsewhere_moves_nothing_of_ann(pages: Pages, closed: bool) -> None:
    ann = pages.person("ann@example.org")
    before = prints_of(pages, ann)
    pages.send("elm-1", DoorForcedOpen(compartment="A02"))
    if closed:
        pages.send("elm-1", DoorClosed(compartment="A02"))
    assert prints_of(pages, ann) == before
    with Session(pages.console.engine) as s:
        assert s.exec(select(Alarm).where(Alarm.bank_id == "elm-1")).first() is not None


def test_a_page_carries_its_mark_so_what_moves_before_the_stream_starts_is_told(
    pages: Pages,
) -> None:
    person_id = pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    found = re.search(r'data-live="/console/live\?since=([0-9a-f.]+)"', ann.get("/console/").text)
    assert found is not None
    told = live.marked(found.group(1))
    assert told == prints_of(pages, person_id)
    pages.send("maple-1", DoorForcedOpen(compartment="A01"))
    stream = live.Stream(lambda: prints_of(pages, person_id), told, pages.console.settings, 0.0)
    assert [m.split("\n")[1] for m in stream.changes(prints_of(pages, person_id))] == [
        "event: alarms"
    ]


async def test_a_stream_ends_when_the_database_does_not_answer() -> None:
    def away() -> live.Prints | None:
        raise OperationalError("SELECT", {}, Exception("connection refused"))

    stream = a_stream()
    stream.look = away
    assert await read(stream, Browser()) == [f"retry: {live.RETRY_MS}\n\n"]
