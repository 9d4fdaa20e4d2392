"""The bank's link to the cloud over MQTT: at-least-once events, at-most-once commands.

- **Session.** A stable client id and a session the broker keeps across reconnects (MQTT 5
  session expiry, or ``clean_session=False`` on 3.1.1), so commands published while the bank
  is offline wait at the broker. The Last Will marks the bank ``offline`` (retained).
- **Events.** The outbox is published in ``seq`` order at QoS 1 and deleted only when the cloud's
  ``events/ack`` covers it: a PUBACK says the broker has it, not that the cloud applied it. When
  an event has waited ``resend_after_s`` for an ack with no progress, the unacknowledged tail is
  published again (``Tail``); the cloud drops what it already has by event id. An event the
  cloud refused (set aside for its operator: decision 0009) is logged and never published again.
  At most ``window`` events are out past the last ack (decision 0029): a backlog of days goes out
  at the pace the cloud stores it, and never sits at the broker ahead of other banks' events.
- **Reconnect.** Capped full-jitter backoff, then a jittered pause before the backlog goes out,
  so that a district whose network returns does not reconnect and resync all at once.
- **Heartbeat** with the edge's clock every ``heartbeat_s``; the **state** snapshot (retained)
  whenever it changes.
- **Commands** go to ``CommandRunner`` one at a time, in arrival order; every delivery is
  answered on ``cmd/ack``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import aiomqtt
from pydantic import ValidationError
from sqlalchemy import Engine

from controller.clock import SystemClock
from controller.commands import CommandRunner
from controller.config import LinkSpec
from controller.store import (
    Outbox,
    drop_acknowledged,
    envelope,
    get_setting,
    last_seq,
    outbox_rows,
    put_setting,
    transaction,
    utcnow,
)
from locker_contract.broker import BrokerUrl
from locker_contract.broker import client as broker_client
from locker_contract.commands import CommandEnvelope, RemoteOpen
from locker_contract.errors import ContractError
from locker_contract.messages import (
    BankState,
    BankStatus,
    CommandAck,
    EventsAck,
    Heartbeat,
    decode,
    problems,
)
from locker_contract.session import Backoff, Reconnecting, Work
from locker_contract.text import sanitised
from locker_contract.topics import Channel, parse, topic

log = logging.getLogger(__name__)

ACKED_KEY = "link.acked_seq"
BATCH = 200
POLL_S = 0.1  # how often the outbox is looked at when nothing nudges the link
STABLE_AFTER_S = 60.0  # a connection that lasted this long resets the backoff


@dataclass
class LinkStatus:
    """What the kiosk and ``/metrics`` show of the link."""

    connected: bool = False
    acked_seq: int = 0
    last_seq: int = 0
    reconnects: int = 0
    cloud_offset_s: float | None = None  # cloud clock minus ours, from the latest ack


@dataclass
class Tail:
    """The published events the cloud has not acknowledged yet, and when to publish them again.

    The wait for an ack is counted from when an event began to wait for one: the first event
    published while nothing waited starts it, ack progress restarts it. (Counted from the last
    ack alone, the first event after a quiet spell of ``resend_after_s`` was published twice.)
    """

    acked: int
    resend_after_s: float
    clock: Callable[[], float]
    window: int  # published past the last ack, at most (``[link] window``)
    sent: int = 0
    waiting_since: float = 0.0
    refused: set[int] = field(default_factory=set)  # set aside by the cloud: never again

    def __post_init__(self) -> None:
        self.restart()

    @property
    def after(self) -> int:
        """Publish what comes after this seq."""
        return max(self.sent, self.acked)

    @property
    def room(self) -> int:
        """How many more may be published before an ack makes room."""
        return max(0, self.acked + self.window - self.after)

    def published(self, seq: int) -> None:
        if self.sent <= self.acked:  # nothing was waiting for an ack: the wait starts now
            self.waiting_since = self.clock()
        self.sent = seq

    def acknowledged(self, seq: int) -> None:
        self.acked, self.waiting_since = seq, self.clock()
        self.refused = {n for n in self.refused if n > seq}

    def refuse(self, seq: int) -> None:
        if seq > self.acked:
            self.refused.add(seq)

    def resend_due(self) -> bool:
        waited = self.clock() - self.waiting_since
        return self.sent > self.acked and waited > self.resend_after_s

    def restart(self) -> None:
        """Publish again from the last ack."""
        self.sent, self.waiting_since = self.acked, self.clock()


class EdgeLink:
    def __init__(
        self,
        engine: Engine,
        bank_id: str,
        spec: LinkSpec,
        *,
        runner: CommandRunner,
        snapshot: Callable[[], BankState],
        boards: Callable[[], tuple[int, int]] = lambda: (0, 0),
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.bank_id = bank_id
        self.spec = spec
        self.broker = BrokerUrl.parse(spec.broker)
        self.runner = runner
        self.snapshot = snapshot
        self.boards = boards
        self.status = LinkStatus()
        self._nudge = asyncio.Event()
        self._commands: asyncio.Queue[tuple[CommandEnvelope, float]] = asyncio.Queue()
        self._clock = clock or SystemClock().monotonic
        self._started = self._clock()
        self._cloud_clock: tuple[datetime, float] | None = None  # from the latest live ack
        with transaction(engine) as s:
            self.status.acked_seq = int(get_setting(s, ACKED_KEY, "0"))
            self.status.last_seq = last_seq(s)
        self._tail = Tail(self.status.acked_seq, spec.resend_after_s, self._clock, spec.window)
        self._rng = rng or random.Random()
        self._sleep = sleep
        backoff = Backoff(spec.backoff_base_s, spec.backoff_cap_s, STABLE_AFTER_S)
        self._connection = Reconnecting(
            f"link[{bank_id}]",
            self._client,
            self._session,
            backoff=backoff,
            tally=self.status,
            farewell=self._say_offline,
            clock=self._clock,
            sleep=sleep,
            rng=self._rng,
            endpoint=str(self.broker),
            logger=log,
        )

    def nudge(self) -> None:
        """New events are in the outbox: publish them now rather than at the next poll."""
        self._nudge.set()

    # --- connection -----------------------------------------------------------------------

    def _client(self) -> aiomqtt.Client:
        status = topic(self.bank_id, Channel.STATUS)
        will = aiomqtt.Will(status, BankStatus(state="offline").model_dump_json(), 1, True)
        password = None
        if self.spec.password_file is not None:
            password = self.spec.password_file.read_text(encoding="utf-8").strip()
        identifier = self.spec.client_id or f"edge-{self.bank_id}"
        username = self.bank_id if password else None
        return broker_client(
            self.broker,
            identifier,
            username=username,
            password=password,
            will=will,
            keepalive=self.spec.keepalive_s,
        )

    async def run(self) -> None:
        """Stay connected until cancelled; publish ``offline`` on the way out."""
        await self._connection.run()

    async def _session(self, client: aiomqtt.Client) -> Work:
        await client.subscribe(topic(self.bank_id, Channel.EVENTS_ACK), qos=1)
        await client.subscribe(topic(self.bank_id, Channel.CMD), qos=1)
        online = BankStatus(state="online", since=utcnow()).model_dump_json()
        await client.publish(topic(self.bank_id, Channel.STATUS), online, qos=1, retain=True)
        return {
            "receive": self._receive(client),
            "events": self._publish_events(client),
            "commands": self._run_commands(client),
            "heartbeat": self._heartbeat(client),
            "state": self._publish_state(client),
        }

    async def _say_offline(self, client: aiomqtt.Client) -> None:
        """A clean stop sends no Last Will: say it ourselves, briefly."""
        offline = BankStatus(state="offline", since=utcnow()).model_dump_json()
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(2):
                status = topic(self.bank_id, Channel.STATUS)
                await client.publish(status, offline, qos=1, retain=True)

    # --- events out, acks in --------------------------------------------------------------

    async def _publish_events(self, client: aiomqtt.Client) -> None:
        await self._sleep(self._rng.uniform(0, self.spec.resync_jitter_s))
        self._tail.restart()  # a new session: whatever was published may be lost
        while True:
            self._nudge.clear()  # cleared before the round: a nudge during it is not lost
            if await self._publish_round(client):
                continue
            await _nudged_or(self._nudge, POLL_S)

    async def _publish_round(self, client: aiomqtt.Client) -> bool:
        """Publish what is new, or the tail again when its ack is overdue; True: there is more
        to publish at once."""
        with transaction(self.engine) as s:
            room = min(BATCH, self._tail.room)
            batch = outbox_rows(s, after=self._tail.after, limit=room) if room else []
            self.status.last_seq = last_seq(s)
        for row in batch:
            assert row.seq is not None
            if row.seq not in self._tail.refused:
                await client.publish(
                    topic(self.bank_id, Channel.EVENTS), _wire(self.bank_id, row), qos=1
                )
            self._tail.published(row.seq)
        if batch and len(batch) == room:
            return True  # more may wait: at once, or when an ack makes room (it nudges)
        if self._tail.resend_due():
            log.info(
                "no ack past %d for %.0f s: publishing again from there",
                self._tail.acked,
                self.spec.resend_after_s,
            )
            self._tail.restart()
            return True
        return False

    def _acked(self, ack: EventsAck, *, live: bool) -> None:
        if live:  # a retained ack's cloud_time is as old as the cloud's last ingest
            self._cloud_clock = (ack.cloud_time, self._clock())
            self.status.cloud_offset_s = (ack.cloud_time - utcnow()).total_seconds()
        for refused in ack.refused:
            log.warning(
                "the cloud set event %d aside (its operator may release it): %s",
                refused.seq,
                sanitised(refused.reason, 200),
            )
            self._tail.refuse(refused.seq)
        if ack.seq <= self.status.acked_seq:
            return
        with transaction(self.engine) as s:
            newest = last_seq(s)
            if ack.seq > newest:  # a store restored or replaced: the cloud is ahead of it
                log.error(
                    "the cloud acknowledges seq %d but this bank has only reached %d; "
                    "keeping every event (restored store?)",
                    ack.seq,
                    newest,
                )
                return
            upto = ack.seq
            dropped = drop_acknowledged(s, upto)
            put_setting(s, ACKED_KEY, str(upto))
        log.debug("cloud applied up to %d: %d events dropped", upto, dropped)
        self.status.acked_seq = upto
        self._tail.acknowledged(upto)
        self._nudge.set()  # room in the window: what waits goes out now

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                channel = parse(message.topic.value).channel
                if channel is Channel.EVENTS_ACK:
                    live = not message.retain
                    self._acked(decode(EventsAck, _payload(message)), live=live)
                elif channel is Channel.CMD:
                    await self._take_command(client, message)
            except ContractError as exc:
                log.warning("dropped a message on %s: %s", message.topic, exc)

    # --- commands -------------------------------------------------------------------------

    async def _take_command(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        payload = _payload(message)
        try:
            envelope = decode(CommandEnvelope, payload)
        except ContractError as exc:
            command_id = _command_id(payload)
            if command_id is not None:
                ack = CommandAck(
                    command_id=command_id,
                    outcome="rejected",
                    detail=str(exc)[:500],
                    edge_time=utcnow(),
                )
                await self._answer(client, ack)
            raise
        remaining = self._remaining(message, envelope)
        if remaining is None and isinstance(envelope.command, RemoteOpen):
            # a door is not opened on a command whose age cannot be told; not recorded, so a
            # copy that arrives once the cloud's clock is known may still be applied in time
            detail = "refused: its age cannot be told yet (MQTT 3.1.1, no ack from the cloud)"
            await self._answer(
                client,
                CommandAck(
                    command_id=envelope.command_id,
                    outcome="rejected",
                    detail=detail,
                    edge_time=utcnow(),
                ),
            )
            return
        deadline = self._clock() + (envelope.ttl_s if remaining is None else remaining)
        await self._commands.put((envelope, deadline))

    def _remaining(self, message: aiomqtt.Message, envelope: CommandEnvelope) -> float | None:
        """Seconds the command has left, counted from now, its receipt; None: unknown.

        Both measures count when known, and the smaller wins: the broker's remaining Message
        Expiry Interval and the envelope's age on the cloud's clock as learnt from the latest
        ack. Over MQTT 5 the cloud sets an expiry on every command, so a command that comes
        without one has none left: Mosquitto counts in whole seconds and was seen to deliver a
        1 s command up to 0.9 s late with the property gone.
        """
        known: list[float] = []
        expiry = getattr(message.properties, "MessageExpiryInterval", None)
        if expiry is not None:  # MQTT 5: the broker counted the time it waited
            known.append(float(expiry))
        elif self.broker.mqtt5:
            known.append(0.0)
        if self._cloud_clock is not None:
            cloud_time, at = self._cloud_clock  # the cloud's clock, carried on our monotonic one
            cloud_now = cloud_time + timedelta(seconds=self._clock() - at)
            age = max(0.0, (cloud_now - envelope.sent_at).total_seconds())
            known.append(envelope.ttl_s - age)
        return min(known) if known else None

    async def _run_commands(self, client: aiomqtt.Client) -> None:
        while True:
            envelope, deadline = await self._commands.get()
            # shielded: a dropped connection must not cancel a door half-way through an unlock;
            # the outcome is recorded, and the cloud's retry is answered with it
            running = self.runner.run(envelope, deadline - self._clock())
            ack = await asyncio.shield(
                asyncio.create_task(
                    running, name=f"{self._connection.name}.command-{envelope.command_id}"
                )
            )
            await self._answer(client, ack)
            self.nudge()  # the command's events, if any

    async def _answer(self, client: aiomqtt.Client, ack: CommandAck) -> None:
        await client.publish(topic(self.bank_id, Channel.CMD_ACK), ack.model_dump_json(), qos=1)

    # --- heartbeat and state --------------------------------------------------------------

    async def _heartbeat(self, client: aiomqtt.Client) -> None:
        while True:
            online, total = self.boards()
            beat = Heartbeat(
                edge_time=utcnow(),
                last_seq=self.status.last_seq,
                acked_seq=self.status.acked_seq,
                uptime_s=self._clock() - self._started,
                boards_online=online,
                boards_total=total,
            )
            await client.publish(topic(self.bank_id, Channel.HEARTBEAT), beat.model_dump_json())
            await self._sleep(self.spec.heartbeat_s)

    async def _publish_state(self, client: aiomqtt.Client) -> None:
        last = ""
        while True:
            state = self.snapshot()
            fingerprint = state.model_dump_json(exclude={"time"})
            if fingerprint != last:
                await client.publish(
                    topic(self.bank_id, Channel.STATE), state.model_dump_json(), qos=1, retain=True
                )
                last = fingerprint
            await self._sleep(self.spec.state_every_s)


async def _nudged_or(nudge: asyncio.Event, timeout_s: float) -> None:
    """Wait for ``nudge`` at most ``timeout_s``; unlike ``asyncio.timeout`` on 3.11, never
    mistakes a cancellation for the timeout."""
    waiter = asyncio.create_task(nudge.wait(), name="link.nudged-or-poll")
    try:
        await asyncio.wait({waiter}, timeout=timeout_s)
    finally:
        waiter.cancel()


def _wire(bank_id: str, row: Outbox) -> str:
    """The event as published. One an older version stored and this contract refuses (a NUL in
    a waybill, say) goes as it was stored, for the cloud to set aside and acknowledge
    (decision 0009): re-checked here, it would stop the link at that event for good."""
    try:
        return envelope(bank_id, row).model_dump_json()
    except ValidationError as exc:
        log.warning(
            "event %s breaks the contract (%s); published as stored, for the cloud to set aside",
            row.seq,
            problems(exc),
        )
    try:
        event: object = json.loads(row.body)
    except ValueError:
        event = sanitised(row.body)
    time_ = row.time.replace(tzinfo=row.time.tzinfo or UTC).isoformat()
    return json.dumps(
        {
            "event_id": row.event_id,
            "bank_id": bank_id,
            "seq": row.seq,
            "time": time_,
            "event": event,
        }
    )


def _payload(message: aiomqtt.Message) -> bytes:
    if isinstance(message.payload, bytes | bytearray):
        return bytes(message.payload)
    return str(message.payload).encode()


def _command_id(payload: bytes) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        found = json.loads(payload).get("command_id")
        if isinstance(found, str) and 0 < len(found) <= 64:
            return found
    return None
