"""The bus master: the one owner of a half-duplex RS-485 line.

Rules it keeps, with who measured them (see ``timing`` and the shared protocol notes):
- one transaction at a time, and an inter-frame silence of t3.5 plus a margin before each;
- stale input is discarded before every request, so a late reply cannot answer the next one;
- reads are retried a bounded number of times; an unlock is never retried: once its frame has
  left, the door is watched through status reads and the outcome is reported as seen;
- "opened" is reported only after two consecutive readings show the lock open;
- a board that fails ``offline_after`` transactions in a row is offline and is re-probed once its
  cooldown has passed; every outage and recovery is logged once;
- Modbus sensors share the line between lock transactions: at most one sensor transaction is
  ever queued ahead of a lock transaction (decision 0025).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from firmware_bridge.belief import Belief
from firmware_bridge.clock import Clock, MonotonicClock
from firmware_bridge.codecs import modbus_rtu
from firmware_bridge.errors import (
    BoardNoReply,
    BoardOffline,
    InvalidRequest,
    TransportError,
    UnlockNotSent,
    UnlockOutcomeUnknown,
)
from firmware_bridge.families import Exchange, Family, FrameParser
from firmware_bridge.model import BoardConfig, BoardStatus, LockState
from firmware_bridge.sensors import (
    SensorProfile,
    SensorReading,
    reading_of,
    sensor_exchange,
    unlock_inside,
)
from firmware_bridge.timing import end_of_frame_silence, inter_frame_gap, wire_time
from firmware_bridge.transport import Transport

log = logging.getLogger(__name__)

LATENCY_SAMPLES = 1024  # round trips kept for the latency summary
CONFIRM_READS = 3  # readings of a board before a flapping lock is left at its old belief
PINNED_AFTER = 2  # agreeing replies before an 8A/80 board's status length is trusted


@dataclass(frozen=True, slots=True)
class BusSettings:
    """Tunables of a bus; the defaults suit real boards.

    ``reply_timeout`` overrides the computed per-reply timeout (wire time plus the family's
    processing allowance). ``confirm_window`` is how long an unlocked door is watched.
    ``belief_max_age``: an unlock skips its pre-read when the board's states were confirmed this
    recently (the edge daemon polls every door continuously, so a pickup pays no extra reads).
    """

    reply_timeout: float | None = None
    read_retries: int = 2
    offline_after: int = 3
    reprobe_after: float = 30.0
    confirm_window: float = 2.0
    confirm_interval: float = 0.05
    belief_max_age: float = 1.0


class UnlockOutcome(StrEnum):
    OPENED = "opened"  # seen open twice after the pulse
    ALREADY_OPEN = "already-open"  # open before anything was sent; no pulse was sent
    NOT_OPENED = "not-opened"  # the pulse left but the lock was read closed throughout


@dataclass(frozen=True, slots=True)
class UnlockResult:
    board: int
    lock: int
    outcome: UnlockOutcome
    acknowledged: bool  # the board answered the unlock frame itself


@dataclass
class BoardHealth:
    online: bool = True
    consecutive_failures: int = 0
    retry_at: float = 0.0


@dataclass
class BusMetrics:
    """Counters for a bus, exported by the edge daemon."""

    transactions: int = 0
    frames_sent: int = 0
    replies: int = 0
    timeouts: int = 0
    retries: int = 0
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_SAMPLES))


@dataclass
class _Board:
    config: BoardConfig
    health: BoardHealth = field(default_factory=BoardHealth)
    belief: Belief | None = None
    believed_at: float | None = None
    status_bytes: int | None = None
    length_votes: deque[int] = field(default_factory=lambda: deque(maxlen=PINNED_AFTER))


class BusMaster:
    """Serialises every transaction on one line and keeps per-board health."""

    def __init__(
        self,
        transport: Transport,
        family: Family,
        boards: Iterable[BoardConfig] = (),
        *,
        baud: int | None = None,
        settings: BusSettings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.transport = transport
        self.family = family
        self.baud = baud or family.default_baud
        self.settings = settings or BusSettings()
        self.clock: Clock = clock or MonotonicClock()
        self.metrics = BusMetrics()
        self.parser = family.new_parser()
        self.sensor_parser = modbus_rtu.Parser()
        self._sensor_gate = asyncio.Lock()  # one sensor transaction queued on the line at most
        self._boards = {b.address: _Board(b) for b in boards}
        self._lock = asyncio.Lock()
        self._line_free_at = 0.0

    # --- public operations ----------------------------------------------------------------

    def health(self, board: int) -> BoardHealth:
        return self._board(board).health

    async def read_status(self, board: int) -> BoardStatus:
        """One reading of every lock of ``board``, with bounded retries."""
        entry = self._board(board)
        self._check_online(entry)
        attempts = 1 if not entry.health.online else 1 + self.settings.read_retries
        for attempt in range(attempts):
            if attempt:
                self.metrics.retries += 1
            try:
                return await self._read_once(entry)
            except BoardNoReply:
                if not entry.health.online:
                    break
        raise BoardNoReply(board, f"no valid reply after {attempt + 1} attempt(s)")

    async def confirmed_status(self, board: int) -> BoardStatus:
        """The board's locks under the double-read rule (at least two readings at first)."""
        entry = self._board(board)
        belief = entry.belief or Belief(board)
        entry.belief = belief
        reading = await self.read_status(board)
        for _ in range(CONFIRM_READS - 1):
            if belief.absorb(reading):
                entry.believed_at = self.clock.now()
                break
            reading = await self.read_status(board)
        else:
            belief.absorb(reading)
        return belief.status(len(reading.locks))

    async def _state_before_unlock(self, entry: _Board, lock: int) -> LockState:
        belief, at = entry.belief, entry.believed_at
        if belief and at is not None and self.clock.now() - at <= self.settings.belief_max_age:
            return belief.status(lock).lock(lock).state
        return (await self.confirmed_status(entry.config.address)).lock(lock).state

    async def open_lock(
        self, board: int, lock: int, on_sent: Callable[[], None] | None = None
    ) -> UnlockResult:
        """Pulse one lock and report what the feedback switch then showed.

        ``on_sent`` is called once the unlock frame has been written, before the door is
        watched: the moment from which the door may move whatever happens to this process.

        Raises ``BoardNoReply``/``BoardOffline`` before anything is sent, ``UnlockNotSent`` when
        the frame could not be written, and ``UnlockOutcomeUnknown`` when it was written but the
        lock could not be read back. Never resends the unlock.
        """
        entry = self._board(board)
        self._check_online(entry)
        if await self._state_before_unlock(entry, lock) is LockState.OPEN:
            return UnlockResult(board, lock, UnlockOutcome.ALREADY_OPEN, acknowledged=False)
        exchange = self.family.unlock_exchange(entry.config, lock)
        entry.believed_at = None  # whatever happens next, the door may move
        try:
            reply = await self._transact(exchange)
        except TransportError as exc:
            raise UnlockNotSent(board, str(exc)) from exc
        log.info("unlock sent: board %d lock %d", board, lock)
        if on_sent is not None:
            on_sent()
        first = LockState.UNKNOWN
        if reply is not None:
            first = self.family.unlock_feedback(entry.config, lock, reply)
        outcome = await self._watch_door(entry, lock, first)
        return UnlockResult(board, lock, outcome, acknowledged=reply is not None)

    async def read_sensor(self, address: int, profile: SensorProfile) -> SensorReading:
        """One reading of the Modbus sensor at ``address``, with bounded retries.

        Failures are readings (timeout, garbled, exception, out of range), never exceptions; only
        a bad address or profile (``InvalidRequest``) and a lost port (``TransportError``) raise.
        Each attempt is one transaction: a lock transaction waits for one at most.
        """
        if profile.baud != self.baud:
            raise InvalidRequest(f"sensor speaks {profile.baud} baud, this bus runs {self.baud}")
        exchange = sensor_exchange(address, profile)
        if self._boards and unlock_inside(exchange.frame):
            raise InvalidRequest(
                f"a lock board could take sensor {address}'s request for an unlock"
            )
        stats = self.sensor_parser.stats
        for attempt in range(1 + self.settings.read_retries):
            if attempt:
                self.metrics.retries += 1
            noise = stats.noise_bytes + stats.bad_frames
            async with self._sensor_gate:
                reply = await self._transact(exchange, self.sensor_parser)
            garbled = stats.noise_bytes + stats.bad_frames > noise
            reading = reading_of(address, profile, reply, garbled=garbled)
            if reply is not None:
                self._check_reply(address, reply)
                return reading
        return reading

    def _check_reply(self, address: int, reply: object) -> None:
        """Warn when a sensor's reply, heard by every board, held the bytes of an unlock."""
        if not isinstance(reply, modbus_rtu.RegistersReply | modbus_rtu.ExceptionReply):
            return
        if self._boards and unlock_inside(modbus_rtu.encode_reply(reply)):
            log.warning("sensor %d answered bytes a lock board could take for an unlock", address)

    async def scan(self, addresses: Iterable[int] | None = None) -> list[int]:
        """Addresses that answer a status request, one try each; health is left untouched."""
        found = []
        for address in addresses or self.family.board_numbers:
            entry = self._boards.get(address) or _Board(BoardConfig(address))
            if await self._transact(self._status_exchange(entry)) is not None:
                found.append(address)
        return found

    # --- transactions ---------------------------------------------------------------------

    def _board(self, board: int) -> _Board:
        entry = self._boards.get(board)
        if entry is None:
            entry = self._boards[board] = _Board(BoardConfig(board))
        return entry

    def _status_exchange(self, entry: _Board) -> Exchange:
        return self.family.status_exchange(entry.config, entry.status_bytes)

    def _timeout(self, exchange: Exchange) -> float:
        if self.settings.reply_timeout is not None:
            return self.settings.reply_timeout
        wire = wire_time(len(exchange.frame) + exchange.reply_bytes, self.baud)
        return wire + exchange.allowance

    async def _transact(
        self, exchange: Exchange, parser: FrameParser | None = None
    ) -> object | None:
        """Send one request and return its reply (None on timeout). Never retries.

        ``parser``: the reply's codec when it is not the lock family's (a sensor's).
        """
        parser = parser or self.parser
        async with self._lock:
            await self.clock.sleep(self._line_free_at - self.clock.now())
            self.transport.discard_input()
            parser.reset()
            parser.expect(exchange.request)
            started = self.clock.now()
            try:
                await self.transport.write(exchange.frame)
            finally:
                self._line_free_at = started + wire_time(len(exchange.frame), self.baud)
            self.metrics.transactions += 1
            self.metrics.frames_sent += 1
            if not exchange.reply_bytes:
                self._line_free_at += inter_frame_gap(self.baud)
                return None
            reply = await self._await_reply(self._line_free_at + self._timeout(exchange), parser)
            parser.expect(None)
            self._line_free_at = self.clock.now() + inter_frame_gap(self.baud)
            if reply is None:
                self.metrics.timeouts += 1
            else:
                self.metrics.replies += 1
                self.metrics.latencies.append(self.clock.now() - started)
            return reply

    async def _await_reply(self, deadline: float, parser: FrameParser) -> object | None:
        """Feed the parser until it yields a reply or the deadline passes.

        Once bytes have arrived, line silence ends the burst: the parser completes a reply of
        unknown length, or drops a false start (junk that began with a header byte) and the
        wait goes on for the rest of the timeout.
        """
        silence = end_of_frame_silence(self.baud)
        in_burst = False
        while (remaining := deadline - self.clock.now()) > 0:
            data = await self.transport.read(min(remaining, silence) if in_burst else remaining)
            if data:
                replies = parser.feed(data)
            elif in_burst:
                replies = parser.end_of_burst()
            else:
                replies = []
            in_burst = bool(data)
            if replies:
                return replies[0]
        return None

    # --- health ---------------------------------------------------------------------------

    def _check_online(self, entry: _Board) -> None:
        health = entry.health
        if not health.online and self.clock.now() < health.retry_at:
            wait = health.retry_at - self.clock.now()
            raise BoardOffline(entry.config.address, f"offline; next probe in {wait:.1f} s")

    def _succeeded(self, entry: _Board) -> None:
        if not entry.health.online:
            log.warning("board %d is back online", entry.config.address)
        entry.health = BoardHealth()

    def _failed(self, entry: _Board) -> None:
        health = entry.health
        health.consecutive_failures += 1
        entry.status_bytes = None
        entry.length_votes.clear()
        if health.consecutive_failures >= self.settings.offline_after:
            if health.online:
                log.warning(
                    "board %d offline after %d failures in a row",
                    entry.config.address,
                    health.consecutive_failures,
                )
            health.online = False
            health.retry_at = self.clock.now() + self.settings.reprobe_after

    def _learn_length(self, entry: _Board, reply: object) -> None:
        length = self.family.status_length(reply)
        if length is None or entry.status_bytes is not None:
            return
        entry.length_votes.append(length)
        votes = entry.length_votes
        if len(votes) == PINNED_AFTER and len(set(votes)) == 1:
            entry.status_bytes = length

    # --- unlock confirmation --------------------------------------------------------------

    async def _watch_door(self, entry: _Board, lock: int, first: LockState) -> UnlockOutcome:
        """Read the lock until it is seen open twice in a row, or the window closes."""
        deadline = self.clock.now() + self.settings.confirm_window
        previous = first
        read_any = first is not LockState.UNKNOWN
        while True:
            try:
                status = await self._read_once(entry)
            except BoardNoReply:
                status = None
            if status is not None:
                read_any = True
                state = status.lock(lock).state
                if state is LockState.OPEN and previous is LockState.OPEN:
                    return UnlockOutcome.OPENED
                previous = state
            if self.clock.now() >= deadline:
                break
            await self.clock.sleep(self.settings.confirm_interval)
        if not read_any:
            raise UnlockOutcomeUnknown(entry.config.address, "unlock sent, lock not read back")
        return UnlockOutcome.NOT_OPENED

    async def _read_once(self, entry: _Board) -> BoardStatus:
        reply = await self._transact(self._status_exchange(entry))
        if reply is None:
            self._failed(entry)
            raise BoardNoReply(entry.config.address, "no reply")
        self._succeeded(entry)
        self._learn_length(entry, reply)
        return self.family.decode_status(entry.config, reply)
