"""The console's live stream, ``GET /console/live``: Server-Sent Events for one person's sites.

Ingest, the notifier and the other servers are separate processes, so nothing here is told of a
change: every ``console_live_poll_s`` the stream reads a fingerprint of what the pages show, one
cheap aggregate per topic over the banks the person sees (``TOPICS``: its open alarms and those
cleared within ``WINDOW``; the commands asked within ``WINDOW``; the banks' presence), so a
poll's cost does not grow with the years of history, and names each topic whose fingerprint
moved in an event (``event: alarms``; data: the topic's short digest, never a row). The page's
script (``static/console.js``) then fetches again, with the person's own session, every region
marked ``data-live="<topic>"``: what a region shows is scoped as the page is, and the stream
itself carries nothing of any site. A page is rendered with its mark (``?since=``), so what
moves between the render and the stream's start is told too.

Each poll re-reads the session and the person: a session revoked, expired or idle too long, or
an account disabled, ends the stream (``event: ended``), and a person whose sites changed is
watched with the new ones at once. A comment line every ``console_live_heartbeat_s`` keeps
proxies from closing an idle stream. A person holds at most ``console_live_per_person`` streams
per server process (429 beyond), and a stream ends after ``STREAM_MAX`` (the browser reconnects
with ``Last-Event-ID`` and is told of every topic that moved meanwhile). A client that reads
slowly stalls only its own stream: the generator waits on its own send, and polls no further.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from threading import Lock
from typing import Protocol

import anyio
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import Engine, func, or_
from sqlalchemy import select as sql_select
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from cloud.console.accounts.deps import SESSION_COOKIE, CurrentPerson, Person, load_person
from cloud.console.accounts.sessions import is_live, token_hash
from cloud.console.accounts.tables import ConsoleSession
from cloud.console.views.scope import banks_seen
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.models import Alarm, Bank, Command, CommandAck

log = logging.getLogger(__name__)

TOPICS = ("alarms", "commands", "banks")
WINDOW = timedelta(days=1)  # commands asked and alarms cleared longer ago are not watched
STREAM_MAX = timedelta(hours=1)  # then the browser reconnects, and everything is checked anew
RETRY_MS = 3000  # how long the browser waits before it reconnects
DIGEST_CHARS = 12
MARK_MAX = (DIGEST_CHARS + 1) * 3  # a mark's length, at most
HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}

Prints = dict[str, str]
router = APIRouter(prefix="/console", include_in_schema=False)


def _digest(values: object) -> str:
    return hashlib.sha256(repr(values).encode()).hexdigest()[:DIGEST_CHARS]


def fingerprints(s: Session, person: Person, now: datetime) -> Prints:
    """One digest per topic of what the person's pages show; it moves when they would."""
    banks = banks_seen(s, person)
    since = now - WINDOW
    live_alarm = or_(col(Alarm.cleared_at).is_(None), col(Alarm.cleared_at) >= since)
    alarms = s.execute(  # more columns than sqlmodel's select types
        sql_select(
            func.count(),
            func.count(col(Alarm.cleared_at)),
            func.count(col(Alarm.acknowledged_at)),
            func.max(Alarm.raised_at),
            func.max(Alarm.acknowledged_at),
            func.max(Alarm.cleared_at),
        ).where(col(Alarm.bank_id).in_(banks), live_alarm)
    ).one()
    recent = (col(Command.bank_id).in_(banks), col(Command.created_at) >= since)
    commands = s.exec(
        select(Command.state, func.count(), func.max(CommandAck.at))
        .outerjoin(CommandAck, col(CommandAck.command_id) == col(Command.id))
        .where(*recent)
        .group_by(col(Command.state))
        .order_by(col(Command.state))
    ).all()
    presence = s.exec(
        select(Bank.online, func.count(), func.max(Bank.status_since))
        .where(col(Bank.id).in_(banks))
        .group_by(col(Bank.online))
        .order_by(col(Bank.online))
    ).all()
    values = {"alarms": tuple(alarms), "commands": commands, "banks": presence}
    return {topic: _digest(values[topic]) for topic in TOPICS}


def watched(engine: Engine, secret_key: str, token: str, now: datetime) -> Prints | None:
    """The fingerprints for the session's person now; None once the session or account ended.
    The session's last use is not moved: a page left open is still idle."""
    with transaction(engine) as s:
        row = s.exec(
            select(ConsoleSession).where(ConsoleSession.token_hash == token_hash(secret_key, token))
        ).first()
        person = load_person(s, row.person_id) if row and is_live(row, now) else None
        return None if person is None else fingerprints(s, person, now)


def event(name: str, data: str, event_id: str | None = None) -> str:
    """One SSE message (``data`` is a digest or a word: never a newline, never a row)."""
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {name}\ndata: {data}\n\n"


def mark(prints: Prints) -> str:
    """The event id the browser sends back on reconnecting: every topic's digest."""
    return ".".join(prints[topic] for topic in TOPICS)


def marked(last_event_id: str | None) -> Prints:
    parts = (last_event_id or "").split(".")
    return dict(zip(TOPICS, parts, strict=False)) if len(parts) == len(TOPICS) else {}


class Streams:
    """How many streams each person holds in this process."""

    def __init__(self) -> None:
        self.held: Counter[str] = Counter()
        self.lock = Lock()

    @contextmanager
    def hold(self, person_id: str, most: int) -> Iterator[bool]:
        """One more stream for ``person_id``, if it holds fewer than ``most`` (then True)."""
        with self.lock:
            taken = self.held[person_id] < most
            if taken:
                self.held[person_id] += 1
        try:
            yield taken
        finally:
            if taken:
                with self.lock:
                    self.held[person_id] -= 1
                    if self.held[person_id] <= 0:
                        del self.held[person_id]

    def full(self, person_id: str, most: int) -> bool:
        with self.lock:
            return self.held[person_id] >= most


class Client(Protocol):
    """What a stream needs of its request: whether the browser went away."""

    async def is_disconnected(self) -> bool: ...


@dataclass
class Stream:
    """One browser's stream: what it last told, and when it says it is alive."""

    look: Callable[[], Prints | None]
    told: Prints
    settings: Settings
    started: float

    def changes(self, prints: Prints) -> list[str]:
        moved = [event(t, prints[t], mark(prints)) for t in TOPICS if self.told.get(t) != prints[t]]
        self.told = prints
        return moved

    async def messages(self, request: Client) -> AsyncIterator[str]:
        yield f"retry: {RETRY_MS}\n\n"
        beat_every = max(1, round(self.settings.console_live_heartbeat_s / self.poll_s))
        polls = 0
        while anyio.current_time() - self.started < STREAM_MAX.total_seconds():
            if await request.is_disconnected():
                return
            try:
                prints = await run_in_threadpool(self.look)
            except SQLAlchemyError:  # the database is away: end, and the browser comes back
                log.warning("console live stream: the database did not answer", exc_info=True)
                return
            if prints is None:
                yield event("ended", "signed-out")
                return
            for message in self.changes(prints):
                yield message
            polls += 1
            if polls % beat_every == 0:
                yield ": alive\n\n"
            await anyio.sleep(self.poll_s)

    @property
    def poll_s(self) -> float:
        return self.settings.console_live_poll_s


async def held(
    stream: Stream, request: Request, streams: Streams, person: Person
) -> AsyncIterator[str]:
    """The stream's messages while it holds one of the person's places (taken as it starts:
    two streams that passed the route's check at once cannot both take the last place)."""
    with streams.hold(person.id, stream.settings.console_live_per_person) as taken:
        if not taken:
            yield event("ended", "too-many")
            return
        async for message in stream.messages(request):
            yield message


def _streams(request: Request) -> Streams:
    state = request.app.state
    if not hasattr(state, "console_streams"):
        state.console_streams = Streams()
    streams: Streams = state.console_streams
    return streams


@router.get("/live")
async def live(request: Request, person: CurrentPerson) -> StreamingResponse:
    """The person's live stream (401 without a session, 429 past its streams)."""
    app = request.app.state
    token = request.cookies.get(SESSION_COOKIE, "")

    def look() -> Prints | None:
        return watched(app.engine, app.settings.secret_key, token, app.clock.now())

    since = request.headers.get("last-event-id") or request.query_params.get("since", "")
    told = marked(since[:MARK_MAX])
    if not told:  # no mark of what the page shows: take it to be what is now
        now_seen = await run_in_threadpool(look)
        told = now_seen or {}
    stream = Stream(look, told, app.settings, anyio.current_time())
    streams = _streams(request)
    if streams.full(person.id, app.settings.console_live_per_person):
        raise HTTPException(429, "too many live streams", headers=HEADERS)
    return StreamingResponse(
        held(stream, request, streams, person), media_type="text/event-stream", headers=HEADERS
    )
