"""Temperature (and humidity) transmitters on RS-485, read with Modbus RTU.

A ``SensorProfile`` says how one model lays out its readings: the read function (03 holding or 04
input registers), the registers of temperature and humidity, whether the temperature word is
signed, the scale (x10: 305 means 30.5), the line speed and the range the sensor can physically
measure. A ``SensorReading`` is what one read gave: a temperature (and humidity) only when the
device answered with a plausible value, otherwise a reason and no number. A reading outside the
sensor's physical range is a broken probe or garbage that passed the CRC, never a temperature; a
humidity beyond saturation is no humidity, but leaves the temperature standing.

``SHT20`` is the common SHT20-based transmitter (XY-MD02 and its clones): input registers 0x0001
(temperature x10, signed) and 0x0002 (humidity x10), 9600 8N1, address 1 by default, measuring
-40 to 60 C. Other models get a profile of their own (``SensorProfile(...)``, or
``parse_profile`` from a ``key=value`` list).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from firmware_bridge.codecs import kerong_cu16, modbus_rtu, xor8a
from firmware_bridge.codecs.checksum import sum8, xor_bcc
from firmware_bridge.errors import InvalidRequest
from firmware_bridge.families import Exchange

# Time a transmitter may take before its reply starts, beyond the frames' wire time. SHT20-class
# transmitters sample in the background and answer from memory within tens of milliseconds; the
# allowance stays short because a silent sensor holds the bus, and an unlock waiting behind it,
# for this long per attempt.
SENSOR_ALLOWANCE = 0.25

SCALES = (1, 10, 100)
MAX_SPAN = 8  # registers between temperature and humidity read in one request


class ReadingStatus(StrEnum):
    """Why a reading has (or has no) temperature."""

    OK = "ok"
    NO_REPLY = "timeout"  # nothing valid came back within the timeout, after the retries
    GARBLED = "garbled"  # bytes came back but no frame passed its checks (CRC, length)
    EXCEPTION = "exception"  # the device answered with a Modbus exception code
    OUT_OF_RANGE = "out-of-range"  # a valid frame with a value the sensor cannot measure


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One read of one sensor; ``celsius`` is None unless ``status`` is OK."""

    address: int
    status: ReadingStatus
    celsius: float | None = None
    humidity: float | None = None
    exception: int | None = None  # the Modbus exception code, for EXCEPTION

    @property
    def ok(self) -> bool:
        return self.status is ReadingStatus.OK

    @property
    def reason(self) -> str | None:
        """None when ok; otherwise ``timeout``, ``exception illegal-data-address``, ..."""
        if self.ok:
            return None
        if self.exception is not None:
            return f"{self.status.value} {modbus_rtu.exception_name(self.exception)}"
        return self.status.value


@dataclass(frozen=True, slots=True)
class SensorProfile:
    """How one model of transmitter answers (see the module's docstring)."""

    name: str
    function: int = modbus_rtu.READ_INPUT
    temperature_register: int = 0x0001
    humidity_register: int | None = 0x0002
    signed: bool = True
    scale: int = 10
    humidity_scale: int = 10
    baud: int = modbus_rtu.DEFAULT_BAUD
    celsius_min: float = -40.0
    celsius_max: float = 60.0

    def __post_init__(self) -> None:
        if self.count > MAX_SPAN:
            raise InvalidRequest(f"humidity must be within {MAX_SPAN} registers of temperature")
        modbus_rtu.ReadRegisters(modbus_rtu.ADDRESS_MIN, self.function, self.first, self.count)
        if self.scale not in SCALES or self.humidity_scale not in SCALES:
            raise InvalidRequest(f"sensor scale must be one of {SCALES}")
        if not self.celsius_min < self.celsius_max:
            raise InvalidRequest("a sensor's range needs celsius_min < celsius_max")
        if self.baud <= 0:
            raise InvalidRequest(f"baud must be positive, got {self.baud}")

    @property
    def first(self) -> int:
        """The first register read."""
        humidity = self.humidity_register
        return (
            self.temperature_register
            if humidity is None
            else min(humidity, self.temperature_register)
        )

    @property
    def count(self) -> int:
        """Registers read in one request: temperature, humidity and any between."""
        humidity = self.humidity_register
        last = self.temperature_register if humidity is None else humidity
        return abs(last - self.temperature_register) + 1

    def request(self, address: int) -> modbus_rtu.ReadRegisters:
        return modbus_rtu.ReadRegisters(address, self.function, self.first, self.count)

    def reading(self, address: int, registers: tuple[int, ...]) -> SensorReading:
        """The reading a reply's registers carry (``registers`` as ``request`` asked for)."""
        raw = registers[self.temperature_register - self.first]
        if self.signed and raw >= 0x8000:
            raw -= 0x10000
        celsius = raw / self.scale
        if not self.celsius_min <= celsius <= self.celsius_max:
            return SensorReading(address, ReadingStatus.OUT_OF_RANGE)
        return SensorReading(address, ReadingStatus.OK, celsius, self._humidity(registers))

    def _humidity(self, registers: tuple[int, ...]) -> float | None:
        """The humidity, or None when there is none or it is beyond saturation: a condensing
        probe in a fridge reads past 100 %RH, and its temperature is still the cold chain's
        record (the sample is kept, without humidity)."""
        if self.humidity_register is None:
            return None
        humidity = registers[self.humidity_register - self.first] / self.humidity_scale
        return humidity if humidity <= HUMIDITY_MAX else None


HUMIDITY_MAX = 100.0  # percent relative humidity; more is no humidity (it is never negative)

SHT20 = SensorProfile("sht20")
PROFILES: dict[str, SensorProfile] = {SHT20.name: SHT20}

_KEYS = [
    "base",
    "function",
    "temperature",
    "humidity",
    "signed",
    "scale",
    "humidity_scale",
    "baud",
    "min",
    "max",
]


def profile_named(name: str) -> SensorProfile:
    """The built-in profile ``name``; ``KeyError`` lists the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise KeyError(f"unknown sensor profile {name!r}; known: {known}") from None


def parse_profile(spec: str) -> SensorProfile:
    """A profile from ``NAME`` or ``[base=NAME,]key=value,...`` (an installer's custom model).

    Keys: ``function`` (3 or 4), ``temperature`` and ``humidity`` (register numbers, ``0x`` allowed;
    ``humidity=none`` for none), ``signed`` (yes/no), ``scale`` and ``humidity_scale`` (1, 10,
    100), ``baud``, ``min`` and ``max`` (the sensor's range in C). Unset keys come from the base,
    ``sht20`` by default. Raises ``InvalidRequest`` naming a bad item.
    """
    if "=" not in spec:
        return profile_named(spec.strip())
    items = dict(_split_item(item) for item in spec.split(",") if item.strip())
    if unknown := sorted(set(items) - set(_KEYS)):
        raise InvalidRequest(
            f"unknown sensor profile key {unknown[0]!r}; known: {', '.join(_KEYS)}"
        )
    base = profile_named(items.get("base", SHT20.name))
    return SensorProfile(
        name="custom",
        function=_number(items, "function", base.function),
        temperature_register=_number(items, "temperature", base.temperature_register),
        humidity_register=_register(items, "humidity", base.humidity_register),
        signed=_yes(items.get("signed"), base.signed),
        scale=_number(items, "scale", base.scale),
        humidity_scale=_number(items, "humidity_scale", base.humidity_scale),
        baud=_number(items, "baud", base.baud),
        celsius_min=_celsius(items, "min", base.celsius_min),
        celsius_max=_celsius(items, "max", base.celsius_max),
    )


def _split_item(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not value.strip():
        raise InvalidRequest(f"sensor profile item {item!r} is not key=value")
    return key.strip().lower(), value.strip().lower()


def _yes(value: str | None, default: bool) -> bool:
    if value is None:
        return default
    if value not in ("yes", "no"):
        raise InvalidRequest(f"signed must be yes or no, got {value!r}")
    return value == "yes"


def _number(items: dict[str, str], key: str, default: int) -> int:
    if key not in items:
        return default
    try:
        return int(items[key], 0)
    except ValueError:
        raise InvalidRequest(f"{key} must be a whole number, got {items[key]!r}") from None


def _register(items: dict[str, str], key: str, default: int | None) -> int | None:
    if items.get(key) == "none":
        return None
    return default if key not in items else _number(items, key, 0)


def _celsius(items: dict[str, str], key: str, default: float) -> float:
    if key not in items:
        return default
    try:
        return float(items[key])
    except ValueError:
        raise InvalidRequest(f"{key} must be a number, got {items[key]!r}") from None


def unlock_inside(frame: bytes) -> bool:
    """Whether five bytes of ``frame`` form an 8A/80 or KR-CU16 unlock a lock board could obey.

    Lock boards hear every frame on a shared bus, and how their firmware frames is not published;
    a Modbus frame holding such bytes is therefore refused (a request) or reported (a reply).
    """
    xor_open = (xor8a.HEADER_OPEN, xor8a.CMD_OPEN)
    kerong_unlock = (kerong_cu16.STX, kerong_cu16.CMD_UNLOCK, kerong_cu16.ETX)
    for i in range(len(frame) - 4):
        window = frame[i : i + 5]
        if (window[0], window[3]) == xor_open and window[4] == xor_bcc(window[:4]):
            return True
        if (window[0], window[2], window[3]) == kerong_unlock and window[4] == sum8(window[:4]):
            return True
    return False


def sensor_exchange(address: int, profile: SensorProfile) -> Exchange:
    """The read of one sensor, as the bus master sends it."""
    request = profile.request(address)
    frame = modbus_rtu.encode(request)
    return Exchange(request, frame, request.reply_len, SENSOR_ALLOWANCE)


def reading_of(
    address: int, profile: SensorProfile, reply: object | None, *, garbled: bool
) -> SensorReading:
    """What one attempt gave: the parser's ``reply``, or None (``garbled``: bytes came)."""
    match reply:
        case modbus_rtu.RegistersReply(registers=registers):
            return profile.reading(address, registers)
        case modbus_rtu.ExceptionReply(code=code):
            return SensorReading(address, ReadingStatus.EXCEPTION, exception=code)
        case _:
            status = ReadingStatus.GARBLED if garbled else ReadingStatus.NO_REPLY
            return SensorReading(address, status)
