"""The ingest worker: events in, acks and commands out, bank presence tracked.

- ``events`` are taken from the socket as it is read (decision 0034) and go to a lane (one per
  bank, by hash); each lane hands ``ingest_batch`` a batch of events of many banks (at most
  ``PER_BANK`` of one, so that a flood from one bank holds another's event back by one batch at
  most; ``cloud.link.lanes``): one transaction stores and applies them in ``seq`` order. After
  the commit the worker acknowledges the batch's messages to the broker (manual acknowledgement:
  a worker that dies holding a batch loses nothing, the broker delivers it again) and publishes,
  per bank, one retained ``events/ack`` with the highest ``seq`` done without a gap, which lets
  the bank drop its outbox up to there. An event that cannot be applied, or that the contract
  refuses but whose id and seq can be read, is quarantined and counts as done (decision 0009);
  the ack lists it as refused, with why.
- ``heartbeat``, ``status`` (the Last Will), ``state`` and ``cmd/ack`` are gathered in memory,
  the latest of each kind per bank (``cloud.link.coalesce``), and written every
  ``PRESENCE_EVERY_S`` in one transaction of a few statements, then acknowledged to the broker.
  Anything from a bank but its Last Will marks it online; a sweep marks banks whose heartbeats
  stopped as offline.
- Commands are published as ``commands.due`` hands them out: first at once, then retried while
  the bank is online and silent, until acknowledged or expired. Over MQTT 5 each carries its
  remaining time to live as the Message Expiry Interval.

Several workers share the load on Mosquitto: events, heartbeats and command acks arrive through
MQTT 5 shared subscriptions (one member gets each message); status and state, retained, go to
every worker. Each worker has its own client id (``cloud-<group>-<name>``) and session; the
example broker config gives the cloud a listener of its own where client ids are free.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import zlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import aiomqtt
from paho.mqtt.client import MQTT_ERR_SUCCESS, MQTTMessage
from paho.mqtt.packettypes import PacketTypes
from pydantic import ValidationError
from sqlalchemy import Engine

from cloud.clock import Clock, SystemClock
from cloud.core.config import Settings
from cloud.link.coalesce import Gathered, Token
from cloud.link.lanes import FairLane
from cloud.link.publishes import Publish
from cloud.link.readahead import read_ahead
from cloud.services import carriers, commands, presence
from cloud.services.aside import lost_database
from cloud.services.ingest import Arrival, Batch, Ingested, Unreadable, ingest_batch
from locker_contract.broker import BrokerUrl
from locker_contract.broker import client as broker_client
from locker_contract.broker import properties as new_properties
from locker_contract.errors import ContractError
from locker_contract.events import Envelope
from locker_contract.messages import (
    REFUSED_MAX,
    BankState,
    BankStatus,
    CommandAck,
    EventsAck,
    Heartbeat,
    RefusedEvent,
    decode,
    problems,
)
from locker_contract.session import Backoff, Reconnecting, Work
from locker_contract.text import sanitised
from locker_contract.topics import Channel, every_bank, parse, shared, topic

log = logging.getLogger(__name__)

M = TypeVar("M", Heartbeat, BankStatus, BankState, CommandAck)

BATCH = 1024  # events a lane stores in one transaction, at most
PER_BANK = 64  # of one bank per batch, at most: the others' events go in the same batch
RECEIVE_MAXIMUM = 32_768  # messages the broker may hand a worker before it acknowledges any
# how often gathered heartbeats, statuses, states and command acks are written: a heartbeat is
# every 30 s and its absence counts after 90; at 0.25 s the writes' own cost made heartbeats
# 0.115 of a worker's core, at 1 s 0.101 (issue 13's target: 0.10; decision 0033)
PRESENCE_EVERY_S = 1.0
RETRY_S = (0.1, 5.0)  # a database lost: first and longest wait before trying a batch again
SWEEP_EVERY_S = 5.0
STABLE_AFTER_S = 60.0  # a connection that lasted this long resets the backoff
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
SHARED = (Channel.EVENTS, Channel.HEARTBEAT, Channel.CMD_ACK)
EVERYONE = (Channel.STATUS, Channel.STATE)


@dataclass
class WorkerStats:
    events: int = 0
    duplicates: int = 0
    rejected: int = 0
    commands_sent: int = 0
    connected: bool = False
    reconnects: int = 0
    applied: dict[str, int] = field(default_factory=dict)


Inbound = tuple[str, Channel, bytes, float]  # bank, channel, payload, received (POSIX s)
Held = tuple[Inbound, Token]  # an event in a lane, and how to acknowledge it to the broker


@dataclass
class Inbox:
    """What one connection received and has not stored yet: events in lanes, the rest gathered.
    Made with the connection: what a lost connection held, the broker delivers again."""

    lanes: list[FairLane[Held]]
    gathered: Gathered = field(default_factory=Gathered)


@dataclass
class Progress:
    """What one batch did to one bank's stream: the ack it is owed."""

    applied_seq: int = 0
    refused: list[RefusedEvent] = field(default_factory=list)

    def take(self, result: Ingested) -> None:
        self.applied_seq = max(self.applied_seq, result.applied_seq)
        room = REFUSED_MAX - len(self.refused)
        self.refused += [RefusedEvent(seq=r.seq, reason=r.reason) for r in result.refused][:room]

    def ack(self, now: datetime) -> EventsAck:
        return EventsAck(seq=self.applied_seq, cloud_time=now, refused=self.refused)


class IngestWorker:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        broker: str,
        *,
        name: str = "1",
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.engine = engine
        self.wall: Clock = wall or SystemClock()  # what the cloud's records are stamped with
        self.settings = settings
        self.broker = BrokerUrl.parse(broker)
        self.client_id = f"cloud-{settings.ingest_group}-{name}"
        self.stats = WorkerStats()
        self._inbox = Inbox([])  # the connection's, made with it
        self._sleep = sleep
        self._connection = Reconnecting(
            f"ingest[{self.client_id}]",
            self._client,
            self._session,
            backoff=Backoff(BACKOFF_BASE_S, BACKOFF_CAP_S, STABLE_AFTER_S),
            tally=self.stats,
            clock=clock,
            sleep=sleep,
            rng=rng,
            endpoint=str(self.broker),
            logger=log,
        )

    def _client(self) -> aiomqtt.Client:
        password = None
        if self.settings.broker_password_file is not None:
            password = self.settings.broker_password_file.read_text(encoding="utf-8").strip()
        client = broker_client(
            self.broker,
            self.client_id,
            session_expiry_s=self.settings.ingest_session_expiry_s,
            receive_maximum=RECEIVE_MAXIMUM,
            username=self.settings.broker_username,
            password=password,
        )
        # acknowledged after the commit (aiomqtt 2.5 has no manual acknowledgement of its own:
        # paho's, underneath). Over MQTT 3.1.1 at once (``_deliver``): amqtt, the embedded demo
        # broker, drops a message whose PUBACK takes over 5 s, where Mosquitto delivers it again
        client._client.manual_ack_set(True)
        # PUBLISHes taken from the socket as it is read, before paho decodes them (decision
        # 0034) and before aiomqtt's queue (decision 0033). Set before connecting, so that what
        # a resumed session brings at once is read the same way
        inbox = self._inbox = Inbox([FairLane() for _ in range(self.settings.ingest_lanes)])
        client._client.on_message = lambda _paho, _data, message: self._stray(client, message)
        read_ahead(client._client, lambda publish: self._deliver(client, inbox, publish))
        return client

    async def run(self) -> None:
        """Stay connected until cancelled, reconnecting with capped full-jitter backoff."""
        await self._connection.run()

    async def _session(self, client: aiomqtt.Client) -> Work:
        for channel in SHARED:
            wanted = every_bank(channel)
            if self.broker.mqtt5:
                wanted = shared(self.settings.ingest_group, wanted)
            await client.subscribe(wanted, qos=1)
        for channel in EVERYONE:
            await client.subscribe(every_bank(channel), qos=1)
        inbox = self._inbox  # this connection's (``_client``)
        work = {f"lane-{n}": self._drain(client, lane) for n, lane in enumerate(inbox.lanes)}
        work |= {
            "receive": self._receive(client),
            "presence": self._presence(client, inbox),
            "commands": self._send_commands(client),
        }
        return work | {"sweep": self._sweep()}

    async def _receive(self, client: aiomqtt.Client) -> None:
        """Until the connection is lost: aiomqtt's iterator raises then. Nothing should reach
        its queue (the worker takes every PUBLISH from the socket); should anything, it is said
        and acknowledged, never left holding one of the broker's slots for the session."""
        async for message in client.messages:
            self._stray(client, message)

    def _stray(self, client: aiomqtt.Client, message: aiomqtt.Message | MQTTMessage) -> None:
        """A message that reached paho's or aiomqtt's own reading (``Tapped`` leaves a QoS 2
        PUBLISH to paho, and one with an empty topic or without a packet identifier: none a
        broker sends a QoS 1 subscription): said and acknowledged, not kept."""
        try:
            name = message.topic.value if isinstance(message, aiomqtt.Message) else message.topic
        except UnicodeDecodeError:
            name = "a topic not UTF-8"
        log.error("a message on %s bypassed the worker's reading", sanitised(name))
        self._ack(client, [(message.mid, message.qos)])

    def _deliver(self, client: aiomqtt.Client, inbox: Inbox, publish: Publish) -> None:
        """A PUBLISH as the socket is read (on the event loop): to be acknowledged once stored,
        over MQTT 3.1.1 at once (see ``_client``)."""
        token = (publish.mid, publish.qos)
        if publish.qos and not self.broker.mqtt5:
            client._client.ack(publish.mid, publish.qos)
            token = (publish.mid, 0)  # nothing more to say to the broker
        self._read(client, inbox, publish.topic, publish.payload, token)

    def _read(
        self, client: aiomqtt.Client, inbox: Inbox, name: bytes, payload: bytes, token: Token
    ) -> None:
        """One message from the broker, put where it waits to be stored."""
        try:
            address = parse(name.decode())
        except (ContractError, UnicodeDecodeError) as exc:  # the latter: a topic not UTF-8
            log.warning("ignored: %s", exc)
            self._ack(client, [token])
            return
        bank, channel = address.bank_id, address.channel
        now = inbox.gathered
        if channel is Channel.EVENTS:
            lane = inbox.lanes[zlib.crc32(bank.encode()) % len(inbox.lanes)]
            lane.put(bank, ((bank, channel, payload, self.wall.now().timestamp()), token))
            now.seen(bank)
        elif channel is Channel.HEARTBEAT:
            now.heartbeat(bank, payload, self.wall.now().timestamp(), token)
        elif channel is Channel.STATUS:
            now.status(bank, payload, token)
        elif channel is Channel.STATE:
            now.state(bank, payload, token)
        elif channel is Channel.CMD_ACK:
            now.cmd_ack(bank, payload, token)
        else:
            self._ack(client, [token])

    @staticmethod
    def _ack(client: aiomqtt.Client, tokens: Sequence[Token]) -> None:
        """Acknowledge messages to the broker: only once what they brought is committed."""
        for mid, qos in tokens:
            if qos:
                client._client.ack(mid, qos)

    async def _drain(self, client: aiomqtt.Client, lane: FairLane[Held]) -> None:
        while True:
            held = await lane.take(BATCH, PER_BANK, self.settings.ingest_linger_s)
            batch = [inbound for inbound, _ in held]
            wait = RETRY_S[0]
            while (acks := await asyncio.to_thread(self._handle, batch)) is None:
                await self._sleep(wait)  # the database is gone: keep the batch, try again
                wait = min(wait * 2, RETRY_S[1])
            self._ack(client, [token for _, token in held])
            self._publish_acks(client, acks)

    def _publish_acks(self, client: aiomqtt.Client, acks: dict[str, Progress]) -> None:
        """Each bank's ``events/ack``, retained, at QoS 0 (decision 0029), handed to paho at once.

        An ack is the latest word on a bank's stream, not a message of its own: one lost with the
        connection is replaced by the next, and the broker hands the retained one to the bank when
        it subscribes again; a bank that misses it sends the events again and is acknowledged
        again. aiomqtt's ``publish`` waits on a future per message and scans every pending call
        each time, which cost this loop more than storing the events did (issue 13's profile)."""
        now = self.wall.now()
        failed = 0
        for bank_id, progress in acks.items():
            payload = progress.ack(now).to_json()
            sent = client._client.publish(
                topic(bank_id, Channel.EVENTS_ACK), payload, qos=0, retain=True
            )
            failed += sent.rc != MQTT_ERR_SUCCESS
        if failed:
            log.warning(
                "%d of %d events/acks not sent: the banks will send again", failed, len(acks)
            )

    def handle_batch(self, batch: list[Inbound]) -> dict[str, Progress]:
        """Store and apply a batch of events (on a thread: the database calls block); the ack
        owed to each bank. Nothing if the database was lost (the batch is to be tried again)."""
        return self._handle(batch) or {}

    def _handle(self, batch: list[Inbound]) -> dict[str, Progress] | None:
        arrivals = [a for a in (self._arrival(bank, payload) for bank, _, payload, _ in batch) if a]
        try:
            done = ingest_batch(self.engine, arrivals, self.wall.now())
        except Exception as exc:
            if lost_database(exc):
                log.warning("storing a batch failed, to be tried again: %s", type(exc).__name__)
                return None
            log.exception("storing a batch failed; its banks will send it again")
            self.stats.rejected += len(arrivals)
            return {}
        return self._count(done)

    def _arrival(self, bank_id: str, payload: bytes) -> Arrival | None:
        try:
            envelope = Envelope.model_validate_json(payload)
        except ValidationError as exc:
            return Unreadable(bank_id, payload, f"not a valid event: {problems(exc)}")
        if envelope.bank_id != bank_id:
            self._refused(bank_id, f"an event of bank {envelope.bank_id} on {bank_id}'s topic")
            return None
        return envelope

    def _refused(self, bank_id: str, reason: str) -> None:
        self.stats.rejected += 1
        log.warning("bank %s event refused: %s", bank_id, sanitised(reason, 400))

    def _count(self, done: Batch) -> dict[str, Progress]:
        self.stats.events += done.stored + done.duplicates
        self.stats.duplicates += done.duplicates
        for bank_id, error in done.rejected:
            self._refused(bank_id, error.message)
        acks: dict[str, Progress] = {}
        for bank_id, result in done.banks.items():
            self.stats.rejected += len(result.refused)
            self.stats.applied[bank_id] = result.applied_seq
            acks.setdefault(bank_id, Progress()).take(result)
        return acks

    # --- presence: gathered, written in bulk --------------------------------------------------

    async def _presence(self, client: aiomqtt.Client, inbox: Inbox) -> None:
        while True:
            await self._sleep(PRESENCE_EVERY_S)
            if not inbox.gathered:
                continue
            taken, inbox.gathered = inbox.gathered, Gathered()
            wait = RETRY_S[0]
            while not await asyncio.to_thread(self._write_presence, taken):
                await self._sleep(wait)
                wait = min(wait * 2, RETRY_S[1])
            self._ack(client, taken.tokens)

    def _write_presence(self, taken: Gathered) -> bool:
        """Write what was gathered; False if the database was lost (to be tried again)."""
        seen = presence.Seen(online=dict(taken.online))
        for bank_id, (payload, received) in taken.beats.items():
            beat = self._decoded(Heartbeat, bank_id, payload)
            if beat is not None:
                at = datetime.fromtimestamp(received, UTC)
                seen.beats.append(presence.Beat(bank_id, beat, at))
        for bank_id, payload in taken.statuses.items():
            status = self._decoded(BankStatus, bank_id, payload) if payload else None
            if status is not None:  # an empty retained message clears the topic
                seen.online[bank_id] = status.state == "online"
        for bank_id, payload in taken.states.items():
            state = self._decoded(BankState, bank_id, payload) if payload else None
            if state is not None:
                seen.states[bank_id] = state
        try:
            self._record(seen)
            for bank_id, payload in taken.acks:
                ack = self._decoded(CommandAck, bank_id, payload)
                if ack is not None:
                    self._record_ack(bank_id, ack)
        except Exception as exc:
            if lost_database(exc):
                log.warning("writing presence failed, to be tried again: %s", type(exc).__name__)
                return False
            log.exception("writing presence failed; the banks will tell again")
        return True

    def _record(self, seen: presence.Seen) -> None:
        """All banks in one transaction; if the database refuses it, bank by bank, so that one
        bank's bad data does not cost every other bank its heartbeat (and, in 90 s, its
        online state)."""
        skew_s, now = self.settings.clock_skew_alarm_s, self.wall.now()
        try:
            presence.record(self.engine, seen, now, skew_s)
        except Exception as exc:
            if lost_database(exc):
                raise
            log.exception("writing presence refused; writing each bank apart")
            self.stats.rejected += len(presence.record_each(self.engine, seen, now, skew_s))

    def _record_ack(self, bank_id: str, ack: CommandAck) -> None:
        """One command's ack, on its own: one the database refuses costs the others nothing (its
        command is sent again, and answered again); losing the database raises."""
        try:
            commands.record_ack(self.engine, bank_id, ack)
        except Exception as exc:
            if lost_database(exc):
                raise
            self.stats.rejected += 1
            log.exception("bank %s: its ack of a command not recorded", bank_id)

    def _decoded(self, kind: type[M], bank_id: str, payload: bytes) -> M | None:
        try:
            return decode(kind, payload)
        except ContractError as exc:
            self.stats.rejected += 1
            log.warning("bank %s %s refused: %s", bank_id, kind.__name__, exc)
            return None

    # --- commands out, silence swept ----------------------------------------------------------

    async def _send_commands(self, client: aiomqtt.Client) -> None:
        while True:
            try:
                retry_s = self.settings.command_retry_s
                due = await asyncio.to_thread(
                    commands.due,
                    self.engine,
                    retry_s,
                    self.wall.now(),
                    secret_key=self.settings.secret_key,
                )
            except Exception:  # the database failed over, say: try again, keep the session
                log.exception("picking due commands failed; trying again")
                due = []
            for delivery in due:
                properties = None
                if self.broker.mqtt5:
                    properties = new_properties(PacketTypes.PUBLISH)
                    properties.MessageExpiryInterval = max(1, math.ceil(delivery.remaining_s))
                await client.publish(
                    topic(delivery.bank_id, Channel.CMD),
                    delivery.envelope.model_dump_json(),
                    qos=1,
                    properties=properties,
                )
                self.stats.commands_sent += 1
            await self._sleep(self.settings.command_poll_s)

    async def _sweep(self) -> None:
        while True:
            await self._sleep(SWEEP_EVERY_S)
            try:
                timeout = self.settings.heartbeat_timeout_s
                now = self.wall.now()
                await asyncio.to_thread(presence.sweep_silent, self.engine, timeout, now)
                stall_s = self.settings.stream_stall_alarm_s
                await asyncio.to_thread(presence.sweep_stalled, self.engine, stall_s, now)
                # couriers' codes for the days ahead, once a day per share (decision 0010)
                await asyncio.to_thread(carriers.refresh_codes, self.engine, now)
            except Exception:
                log.exception("sweeping silent banks failed; trying again")
