"""Modbus RTU temperature transmitters on the twin's bus, each measuring one chilled zone.

The transmitter is an XY-MD02-style SHT20 device, written from its manual, not from the bridge:
input registers 0x0001 (temperature x10, two's complement) and 0x0002 (humidity x10); holding
registers 0x0101-0x0104 (its address, baud code, temperature and humidity corrections). Any other
function is answered with exception 01, registers it lacks with exception 02. It shares only the
CRC with ``firmware_bridge``.

A zone's compartments are doors of the simulated boards: when one of them stands open the zone
warms through its open-door time constant (``hil_sim.thermal``). Faults (``hil_sim.faults``):

    sensor-silent@A       the transmitter at A stops answering
    sensor-garbage@A=p    with probability p its reply is garbled on the line (fails its CRC)
    sensor-probe@A        its probe is broken: valid frames carrying 0x7FFF (3276.7 C)
    compressor-failure@A  the compressor of the zone that A measures stops (=0 repairs it)
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from firmware_bridge.codecs.checksum import crc16_modbus
from hil_sim.door import Door, DoorState
from hil_sim.faults import Fault
from hil_sim.thermal import ThermalParams, ThermalZone

REQUEST_LEN = 8  # address, function, start, count, CRC: every read or single write request
READ_HOLDING, READ_INPUT = 0x03, 0x04
ILLEGAL_FUNCTION, ILLEGAL_DATA_ADDRESS = 0x01, 0x02
REPLY_DELAY = 0.008  # the transmitter's processing time before it answers
BROKEN_PROBE = 0x7FFF  # what a transmitter with a broken probe is modelled to report
BAUD_CODE_9600 = 0
ADDRESS_MIN, ADDRESS_MAX = 1, 247  # 0 is broadcast, 248-255 reserved: no transmitter has them


@dataclass
class SensorFaults:
    silent: bool = False
    garbage: float = 0.0  # probability a reply is garbled
    broken_probe: bool = False


@dataclass(frozen=True, slots=True)
class SensorSetup:
    """A chilled zone and the transmitter at ``address`` that measures it.

    ``doors``: (board, lock) of the zone's compartments on the simulated lock boards.
    """

    address: int
    doors: tuple[tuple[int, int], ...] = ()
    params: ThermalParams = field(default_factory=ThermalParams)
    humidity: float = 60.0

    def __post_init__(self) -> None:
        if not ADDRESS_MIN <= self.address <= ADDRESS_MAX:
            raise ValueError(
                f"sensor {self.address}: a Modbus address is {ADDRESS_MIN}-{ADDRESS_MAX}"
            )


@dataclass
class ChilledZone:
    """A thermal zone that learns of its doors' openings from their recorded moves."""

    thermal: ThermalZone
    doors: list[Door]
    humidity: float = 60.0
    _seen: list[int] = field(init=False)
    _open: list[bool] = field(init=False)

    def __post_init__(self) -> None:
        self._seen = [len(door.moves) for door in self.doors]
        self._open = [door.state is DoorState.OPEN for door in self.doors]
        self.thermal.doors_open = sum(self._open)

    def advance(self, now: float) -> float:
        """The zone's temperature at ``now``, with every door movement since applied in order."""
        moves: list[tuple[float, int, DoorState]] = []
        for index, door in enumerate(self.doors):
            door.advance(now)
            moves += [(at, index, state) for at, state in door.moves[self._seen[index] :]]
            self._seen[index] = len(door.moves)
        # in time order, and each door's moves at one instant in the order they happened
        # (a stable sort on time and door: never by the states' names)
        for at, index, state in sorted(moves, key=lambda move: move[:2]):
            is_open = state is DoorState.OPEN
            if is_open != self._open[index]:
                self._open[index] = is_open
                self.thermal.door(at, opened=is_open)
        return self.thermal.advance(now)


@dataclass
class ModbusSensor:
    """One transmitter: answers read requests from its zone's temperature."""

    address: int
    zone: ChilledZone
    faults: SensorFaults = field(default_factory=SensorFaults)

    def registers(self, function: int, now: float) -> dict[int, int]:
        if function == READ_HOLDING:
            return {0x0101: self.address, 0x0102: BAUD_CODE_9600, 0x0103: 0, 0x0104: 0}
        celsius = self.zone.advance(now)
        temperature = BROKEN_PROBE if self.faults.broken_probe else round(celsius * 10)
        return {0x0001: temperature & 0xFFFF, 0x0002: round(self.zone.humidity * 10)}

    def reply(self, frame: bytes, now: float) -> bytes:
        """The frame this transmitter sends back to the CRC-valid ``frame`` addressed to it."""
        function = frame[1]
        if function not in (READ_HOLDING, READ_INPUT):
            return _exception(self.address, function, ILLEGAL_FUNCTION)
        start, count = int.from_bytes(frame[2:4], "big"), int.from_bytes(frame[4:6], "big")
        table = self.registers(function, now)
        wanted = range(start, start + count)
        if not count or any(register not in table for register in wanted):
            return _exception(self.address, function, ILLEGAL_DATA_ADDRESS)
        data = b"".join(table[register].to_bytes(2, "big") for register in wanted)
        return _with_crc(bytes([self.address, function, len(data)]) + data)


def _with_crc(body: bytes) -> bytes:
    return body + crc16_modbus(body).to_bytes(2, "little")


def _exception(address: int, function: int, code: int) -> bytes:
    return _with_crc(bytes([address, function | 0x80, code]))


class SensorLine:
    """Every transmitter on one bus: frames the master's bytes, answers, applies faults."""

    def __init__(self, sensors: Iterable[ModbusSensor] = (), seed: int = 0) -> None:
        self.sensors = {sensor.address: sensor for sensor in sensors}
        self.rejected_bytes = 0
        self._buf = bytearray()
        self._rng = random.Random(seed)

    def feed(self, data: bytes) -> list[bytes]:
        """The requests addressed to these transmitters that ``data`` completes.

        RTU requests carry no start marker: every 8-byte window that begins with one of our
        addresses and passes its CRC is a request; other bytes (lock-board traffic on a shared
        bus, requests to other devices, noise) are skipped one at a time.
        """
        if not self.sensors:
            return []
        self._buf += data
        frames = []
        while len(self._buf) >= REQUEST_LEN:
            window = bytes(self._buf[:REQUEST_LEN])
            crc = int.from_bytes(window[-2:], "little")
            if window[0] in self.sensors and crc16_modbus(window[:-2]) == crc:
                frames.append(window)
                del self._buf[:REQUEST_LEN]
            else:
                self.rejected_bytes += 1
                del self._buf[:1]
        return frames

    def answer(self, frame: bytes, now: float) -> tuple[float, bytes] | None:
        """(delay, bytes) the addressed transmitter sends back, or None when it stays silent."""
        sensor = self.sensors[frame[0]]
        if sensor.faults.silent:
            return None
        reply = sensor.reply(frame, now)
        if sensor.faults.garbage and self._rng.random() < sensor.faults.garbage:
            reply = reply[:1] + self._rng.randbytes(len(reply) - 1)
        return REPLY_DELAY, reply

    def apply(self, fault: Fault, now: float) -> None:
        """Apply one ``sensor-*`` or ``compressor-failure`` fault (see the module docstring)."""
        sensor = self.sensors.get(fault.board if fault.board is not None else -1)
        if sensor is None:
            raise KeyError(f"no simulated sensor {fault.board}")
        faults, on = sensor.faults, bool(fault.value)
        match fault.kind:
            case "sensor-silent":
                faults.silent = on
            case "sensor-garbage":
                faults.garbage = fault.value
            case "sensor-probe":
                faults.broken_probe = on
            case "compressor-failure":
                sensor.zone.advance(now)
                sensor.zone.thermal.fail_compressor(now, failed=on)
            case _:
                raise KeyError(f"{fault.kind!r} is not a sensor fault")


def parse_sensors(text: str) -> list[SensorSetup]:
    """``10=1/5+1/6,11``: transmitter 10 measures the zone of doors 1/5 and 1/6, 11 a zone with no
    doors; every zone with the default chilled physics. Raises ``ValueError`` naming a bad item."""
    setups = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        address, _, doors = item.partition("=")
        try:
            where = tuple(_board_lock(door) for door in doors.split("+") if door.strip())
            number = int(address)
        except ValueError:
            raise ValueError(
                f"cannot read sensor {item!r}; expected ADDRESS[=B/L+B/L...]"
            ) from None
        setups.append(SensorSetup(number, where))
    return setups


def _board_lock(text: str) -> tuple[int, int]:
    board, _, lock = text.partition("/")
    return int(board), int(lock)


def build_line(
    setups: Iterable[SensorSetup], doors: Mapping[tuple[int, int], Door], seed: int = 0
) -> SensorLine:
    """The transmitters of ``setups``, their zones' doors taken from ``doors`` by (board, lock)."""
    sensors = []
    for setup in setups:
        try:
            zone_doors = [doors[where] for where in setup.doors]
        except KeyError as exc:
            raise KeyError(f"zone of sensor {setup.address}: no simulated door {exc}") from None
        zone = ChilledZone(ThermalZone(setup.params), zone_doors, setup.humidity)
        sensors.append(ModbusSensor(setup.address, zone))
    return SensorLine(sensors, seed)
