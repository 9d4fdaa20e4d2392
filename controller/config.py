"""The bank's configuration (TOML): buses, boards, compartments and policy.

A bad file is refused at start with every problem listed, not the first one only.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from nacl.public import PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from controller.cold.zones import ColdPolicy, ZoneSpec, check_zones, class_of
from firmware_bridge.families import family_named
from firmware_bridge.model import Polarity
from locker_contract import sealing, vocabulary
from locker_contract.cold import TemperatureClass
from locker_contract.events import BANK_ID_PATTERN

T = TypeVar("T")
Size = vocabulary.Size  # defined once, for the edge and the cloud


class ConfigError(Exception):
    """The configuration cannot be used; ``problems`` lists every reason."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        super().__init__(f"{path}: " + "; ".join(problems))
        self.path = path
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoardSpec(_Strict):
    address: Annotated[int, Field(ge=0, le=31)]
    channels: Annotated[int, Field(ge=2, le=50)] = 24
    polarity: Polarity = Polarity.SET_IS_CLOSED
    status_bytes: Annotated[int, Field(ge=1, le=8)] | None = None


class BusSpec(_Strict):
    name: Annotated[str, Field(min_length=1)]
    port: Annotated[str, Field(min_length=1)]
    protocol: Literal["xor8a", "kerong-cu16"]
    baud: int | None = None
    boards: Annotated[list[BoardSpec], Field(alias="board", min_length=1)]


class CompartmentSpec(_Strict):
    label: Annotated[str, Field(pattern=r"^[A-Z][0-9]{2}$")]
    bus: str
    board: int
    channel: Annotated[int, Field(ge=1, le=50)]
    size: Size
    low: bool = False


class BankSpec(_Strict):
    id: Annotated[str, Field(pattern=BANK_ID_PATTERN)]
    name: str = ""
    database: Path = Path("edge.db")
    key_file: Path = Path("bank.key")


class ApiSpec(_Strict):
    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=1, le=65535)] = 8080


class Policy(_Strict):
    """Timers and limits; every default here is what the issue asks for."""

    poll_interval_s: Annotated[float, Field(gt=0)] = 0.5
    left_open_after_s: Annotated[float, Field(gt=0)] = 60.0
    storage_days: Annotated[float, Field(gt=0)] = 3.0
    credential_ttl_h: Annotated[float, Field(gt=0)] = 72.0
    session_timeout_s: Annotated[float, Field(gt=0)] = 120.0
    lockout_after: Annotated[int, Field(ge=1)] = 5
    lockout_base_s: Annotated[float, Field(gt=0)] = 30.0
    lockout_max_s: Annotated[float, Field(gt=0)] = 900.0
    daily_failure_limit: Annotated[int, Field(ge=1)] = 100  # per courier PIN
    # pickup codes (controller/throttle.py, docs/security.md): the kiosk's own screen is one
    # source, every other address another; past the kiosk-wide budget of wrong codes in a local
    # day, each wrong code locks its source for slow_lockout_s (an alarm, never a disable)
    kiosk_terminals: tuple[str, ...] = ("127.0.0.1", "::1")
    kiosk_failure_budget: Annotated[int, Field(ge=1)] = 10
    slow_lockout_s: Annotated[float, Field(gt=0)] = 14400.0
    pickup_session_s: Annotated[float, Field(gt=0)] = 120.0  # refusing needs the pickup's token
    jams_before_out_of_service: Annotated[int, Field(ge=1)] = 2
    unlock_confirm_s: Annotated[float, Field(gt=0)] = 2.0
    # a door seen open this long after an unlock whose outcome was never read is no longer put
    # down to it (a restart inside the window still is): it is reported forced
    unlock_claim_s: Annotated[float, Field(gt=0)] = 120.0
    board_reprobe_s: Annotated[float, Field(gt=0)] = 30.0
    kiosk_idle_s: Annotated[float, Field(gt=0)] = 60.0


class LinkSpec(_Strict):
    """The link to the cloud; without a ``[link]`` table the bank runs standalone."""

    broker: Annotated[str, Field(pattern=r"^mqtt(s|311)?://")]
    client_id: str | None = None  # stable across restarts: the broker keeps the session
    password_file: Path | None = None  # username is the bank id; the file is never committed
    heartbeat_s: Annotated[float, Field(gt=0)] = 30.0
    resend_after_s: Annotated[float, Field(gt=0)] = 30.0  # no ack by then: publish again
    # events published past the cloud's last ack, at most: a backlog after days offline goes out
    # at the pace the cloud stores it, never queued at the broker ahead of other banks' events
    window: Annotated[int, Field(ge=1)] = 256
    backoff_base_s: Annotated[float, Field(gt=0)] = 1.0
    backoff_cap_s: Annotated[float, Field(gt=0)] = 300.0
    resync_jitter_s: Annotated[float, Field(ge=0)] = 10.0  # spread the backlog after reconnect
    state_every_s: Annotated[float, Field(gt=0)] = 1.0  # how often the snapshot is compared
    keepalive_s: Annotated[int, Field(ge=5)] = 60
    # the cloud notifier's public key (``locker cloud keygen-notify``), or a file holding it:
    # pickup codes leave the bank sealed for it; without one the courier is shown the code
    notify_public_key: str | None = None
    notify_public_key_file: Path | None = None

    @model_validator(mode="after")
    def _one_notify_key(self) -> LinkSpec:
        if self.notify_public_key is not None and self.notify_public_key_file is not None:
            raise ValueError("give notify_public_key or notify_public_key_file, not both")
        if self.notify_public_key is not None:
            _check_public_key(self.notify_public_key)
        return self

    def sealing_key(self) -> PublicKey | None:
        """The notifier's key, once ``load_config`` has read any key file."""
        return (
            None if self.notify_public_key is None else sealing.public_key(self.notify_public_key)
        )


def _check_public_key(text: str) -> None:
    try:
        sealing.public_key(text)
    except sealing.SealingError as exc:
        raise ValueError(f"notify public key: {exc}") from None


class EdgeConfig(_Strict):
    bank: BankSpec
    api: ApiSpec = ApiSpec()
    policy: Policy = Policy()
    link: LinkSpec | None = None
    buses: Annotated[list[BusSpec], Field(alias="bus", min_length=1)]
    compartments: Annotated[list[CompartmentSpec], Field(alias="compartment", min_length=1)]
    zones: list[ZoneSpec] = []  # chilled and frozen compartments (controller.cold)
    cold: ColdPolicy = ColdPolicy()

    def bus(self, name: str) -> BusSpec:
        return next(b for b in self.buses if b.name == name)

    def compartment(self, label: str) -> CompartmentSpec:
        return next(c for c in self.compartments if c.label == label)

    def temperature_class(self, label: str) -> TemperatureClass:
        return class_of(self.zones, label)


def load_config(path: Path) -> EdgeConfig:
    """Read and check ``path``; relative file paths in it are taken from its folder."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(path, [str(exc)]) from None
    try:
        config = EdgeConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(path, [_describe(e) for e in exc.errors()]) from None
    problems = cross_check(config)
    if problems:
        raise ConfigError(path, problems)
    bank = config.bank.model_copy(
        update={
            "database": path.parent / config.bank.database,
            "key_file": path.parent / config.bank.key_file,
        }
    )
    update: dict[str, object] = {"bank": bank}
    if config.link is not None and config.link.password_file is not None:
        password_file = path.parent / config.link.password_file
        problem = password_problem(password_file)
        if problem is not None:
            raise ConfigError(path, [problem])
        update["link"] = config.link.model_copy(update={"password_file": password_file})
    if config.link is not None and config.link.notify_public_key_file is not None:
        link = update.get("link", config.link)
        assert isinstance(link, LinkSpec)
        update["link"] = _read_notify_key(path, link)
    return config.model_copy(update=update)


def password_problem(password_file: Path) -> str | None:
    """Why the link's ``password_file`` cannot be used, or None. Checked at load, so that a
    missing file is one clear refusal at start, not a failed connection every few seconds."""
    fix = "put the bank's broker password in it (mode 0600), or remove password_file"
    try:
        password = password_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return f"link.password_file: cannot read {password_file} ({reason}): {fix}"
    if not password:
        return f"link.password_file: {password_file} is empty: {fix}"
    return None


def _read_notify_key(path: Path, link: LinkSpec) -> LinkSpec:
    """The link with the notifier's key read from its file (relative to the config's folder)."""
    assert link.notify_public_key_file is not None
    key_file = path.parent / link.notify_public_key_file
    try:
        text = key_file.read_text(encoding="ascii").strip()
        _check_public_key(text)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(path, [f"link.notify_public_key_file: {exc}"]) from None
    return link.model_copy(update={"notify_public_key_file": key_file, "notify_public_key": text})


def _describe(error: object) -> str:
    assert isinstance(error, dict)
    where = ".".join(str(part) for part in error["loc"]) or "(file)"
    return f"{where}: {error['msg']}"


def cross_check(config: EdgeConfig) -> list[str]:
    """Problems a schema cannot see: references, duplicates, ranges per board family."""
    problems = [f"bus {n!r} is defined twice" for n, c in _dupes(b.name for b in config.buses)]
    buses = {b.name: b for b in config.buses}
    for bus in config.buses:
        problems += _check_bus(bus)
    for label, _ in _dupes(c.label for c in config.compartments):
        problems.append(f"compartment {label} is defined twice")
    wiring = Counter((c.bus, c.board, c.channel) for c in config.compartments)
    for (bus_name, board, channel), count in wiring.items():
        if count > 1:
            problems.append(
                f"{count} compartments share bus {bus_name} board {board} channel {channel}"
            )
    for comp in config.compartments:
        problems += _check_compartment(comp, buses)
    labels = {c.label for c in config.compartments}
    bauds = {b.name: b.baud or family_named(b.protocol).default_baud for b in config.buses}
    return problems + check_zones(config.zones, labels, bauds)


def _dupes(names: Iterable[T]) -> list[tuple[T, int]]:
    return [(n, c) for n, c in Counter(names).items() if c > 1]


def _check_bus(bus: BusSpec) -> list[str]:
    low, high = (0, 15) if bus.protocol == "kerong-cu16" else (1, 31)
    problems = [
        f"bus {bus.name}: board address {b.address} is outside {low}-{high} for {bus.protocol}"
        for b in bus.boards
        if not low <= b.address <= high
    ]
    problems += [
        f"bus {bus.name}: board {a} is defined twice"
        for a, _ in _dupes(b.address for b in bus.boards)
    ]
    return problems


def _check_compartment(comp: CompartmentSpec, buses: dict[str, BusSpec]) -> list[str]:
    bus = buses.get(comp.bus)
    if bus is None:
        return [f"compartment {comp.label}: no bus named {comp.bus!r}"]
    board = next((b for b in bus.boards if b.address == comp.board), None)
    if board is None:
        return [f"compartment {comp.label}: bus {comp.bus} has no board {comp.board}"]
    channels = 16 if bus.protocol == "kerong-cu16" else board.channels
    if comp.channel > channels:
        where = f"compartment {comp.label}: board {comp.board}"
        return [f"{where} has {channels} channels, not {comp.channel}"]
    return []
