"""The ingest worker: events in, acks and commands out, bank presence tracked.

- ``events`` go to ``ingest_event`` (stored once by event id, applied in ``seq`` order); after
  each batch the worker publishes, per bank, a retained ``events/ack`` with the highest ``seq``
  done without a gap, which lets the bank drop its outbox up to there. An event that cannot be
  applied, or that the contract refuses but whose id and seq can be read, is quarantined and
  counts as done (decision 0009); the ack lists it as refused, with why.
- ``heartbeat``, ``status`` (the Last Will) and ``state`` feed ``presence``; a sweep marks banks
  whose heartbeats stopped as offline.
- Commands are published as ``commands.due`` hands them out: first at once, then retried while
  the bank is online and silent, until acknowledged or expired. Over MQTT 5 each carries its
  remaining time to live as the Message Expiry Interval.

Several workers share the load on Mosquitto: events, heartbeats and command acks arrive through
MQTT 5 shared subscriptions (one member gets each message); status and state, retained, go to
every worker. A bank's messages go through one lane in arrival order; lanes run in parallel.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from pydantic import ValidationError
from sqlalchemy import Engine

from cloud.clock import Clock, SystemClock
from cloud.core.config import Settings
from cloud.services import carriers, commands, presence
from cloud.services.errors import CloudError
from cloud.services.ingest import Ingested, ingest_event, ingest_unreadable
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
from locker_contract.topics import Channel, every_bank, parse, shared, topic

log = logging.getLogger(__name__)

BATCH = 256  # messages a lane takes at once before acknowledging
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
        self._lanes: list[asyncio.Queue[Inbound]] = [
            asyncio.Queue() for _ in range(settings.ingest_lanes)
        ]
        self._handlers: dict[Channel, Callable[[str, bytes, float], Ingested | None]] = {
            Channel.EVENTS: self._event,
            Channel.HEARTBEAT: self._heartbeat,
            Channel.CMD_ACK: self._cmd_ack,
            Channel.STATUS: self._status,
            Channel.STATE: self._state,
        }
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
        return broker_client(
            self.broker,
            self.client_id,
            session_expiry_s=self.settings.ingest_session_expiry_s,
            max_queued_outgoing_messages=None,
            username=self.settings.broker_username,
            password=password,
        )

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
        work = {f"lane-{n}": self._drain(client, lane) for n, lane in enumerate(self._lanes)}
        work |= {"receive": self._receive(client), "commands": self._send_commands(client)}
        return work | {"sweep": self._sweep()}

    async def _receive(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            try:
                address = parse(message.topic.value)
            except ContractError as exc:
                log.warning("ignored: %s", exc)
                continue
            payload = message.payload if isinstance(message.payload, bytes) else b""
            lane = zlib.crc32(address.bank_id.encode()) % len(self._lanes)
            self._lanes[lane].put_nowait(
                (address.bank_id, address.channel, payload, self.wall.now().timestamp())
            )

    async def _drain(self, client: aiomqtt.Client, lane: asyncio.Queue[Inbound]) -> None:
        while True:
            batch = [await lane.get()]
            while len(batch) < BATCH and not lane.empty():
                batch.append(lane.get_nowait())
            acks = await asyncio.to_thread(self.handle_batch, batch)
            for bank_id, progress in acks.items():
                ack = progress.ack(self.wall.now()).to_json()
                await client.publish(topic(bank_id, Channel.EVENTS_ACK), ack, qos=1, retain=True)

    def handle_batch(self, batch: list[Inbound]) -> dict[str, Progress]:
        """Handle messages in order (on a thread: the database calls block); the ack per bank."""
        acks: dict[str, Progress] = {}
        for bank_id, channel, payload, received in batch:
            try:
                result = self._handlers[channel](bank_id, payload, received)
            except (ContractError, CloudError) as exc:
                self.stats.rejected += 1
                log.warning("bank %s %s refused: %s", bank_id, channel.value, exc)
            except Exception:
                self.stats.rejected += 1  # the bank publishes it again; nothing is lost
                log.exception("bank %s %s failed", bank_id, channel.value)
            else:
                if result is not None:
                    acks.setdefault(bank_id, Progress()).take(result)
        return acks

    # --- one handler per channel; an event's returns how far its bank is done ----------------

    def _event(self, bank_id: str, payload: bytes, received: float) -> Ingested:
        try:
            envelope = Envelope.model_validate_json(payload)
        except ValidationError as exc:
            reason = f"not a valid event: {problems(exc)}"
            now = self.wall.now()
            unreadable = ingest_unreadable(self.engine, bank_id, payload, reason, now)
            if unreadable is None:  # not even its id and seq: nothing to set aside or ack
                raise ContractError(reason) from None
            return self._count(bank_id, unreadable)
        if envelope.bank_id != bank_id:
            raise ContractError(f"an event of bank {envelope.bank_id} on {bank_id}'s topic")
        return self._count(bank_id, ingest_event(self.engine, envelope, self.wall.now()))

    def _count(self, bank_id: str, result: Ingested) -> Ingested:
        self.stats.events += 1
        self.stats.duplicates += result.duplicate
        self.stats.rejected += len(result.refused)
        self.stats.applied[bank_id] = result.applied_seq
        return result

    def _heartbeat(self, bank_id: str, payload: bytes, received: float) -> None:
        beat = decode(Heartbeat, payload)
        at = datetime.fromtimestamp(received, UTC)
        presence.record_heartbeat(self.engine, bank_id, beat, at, self.settings.clock_skew_alarm_s)

    def _cmd_ack(self, bank_id: str, payload: bytes, received: float) -> None:
        commands.record_ack(self.engine, bank_id, decode(CommandAck, payload))

    def _status(self, bank_id: str, payload: bytes, received: float) -> None:
        if payload:  # an empty retained message clears the topic
            status = decode(BankStatus, payload)
            presence.record_status(self.engine, bank_id, status, self.wall.now())

    def _state(self, bank_id: str, payload: bytes, received: float) -> None:
        if payload:
            presence.record_state(self.engine, bank_id, decode(BankState, payload))

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
