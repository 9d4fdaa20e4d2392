"""The bank's local store: SQLite in WAL mode with ``synchronous=FULL``, through SQLModel.

Every state change is written in the same transaction as the event that reports it (``emit``
adds the event to the outbox table). Database constraints hold the invariants the flows rely
on: one active parcel per compartment, one active pickup group per recipient and per code.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Index, event, text
from sqlalchemy import Enum as SAEnum
from sqlmodel import Field, Session, SQLModel, col, create_engine, delete, select

from controller import clock, lifecycles
from controller.cold import tables as cold_tables
from controller.lifecycles import (
    DepositState,
    DoorState,
    IntentState,
    OpenedFor,
    ParcelState,
    UnlockFlow,
)
from locker_contract.events import Envelope, Event, EventAdapter

# kept here for the modules that read them from the store
utcnow = clock.utcnow
COLD_TABLES = cold_tables  # the cold chain's rows, created by ``open_store`` with these
ACTIVE_PARCEL_STATES = lifecycles.ACTIVE_PARCEL_STATES
ACTIVE_DEPOSIT_STATES = lifecycles.ACTIVE_DEPOSIT_STATES


def new_id() -> str:
    return str(uuid.uuid4())


def _values(kind: type[StrEnum]) -> list[str]:
    return [member.value for member in kind]


def _stored(kind: type[StrEnum]) -> SAEnum:
    """A lifecycle's state column: its enum in Python, the member's value in a plain VARCHAR
    (no CHECK, no native type), the very strings stores written before held."""
    return SAEnum(kind, native_enum=False, create_constraint=False, values_callable=_values)


class Compartment(SQLModel, table=True):
    label: str = Field(primary_key=True)
    size: str
    low: bool = False
    in_service: bool = True
    service_note: str = ""
    jam_count: int = 0
    door: DoorState = Field(default=DoorState.UNKNOWN, sa_type=_stored(DoorState))
    opened_at: datetime | None = None
    left_open_reported: bool = False


class PickupGroup(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    phone: str
    code_hash: str
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        Index("one_active_group_per_phone", "phone", unique=True, sqlite_where=text("active")),
        Index("one_active_group_per_code", "code_hash", unique=True, sqlite_where=text("active")),
    )


class Parcel(SQLModel, table=True):
    id: str = Field(default_factory=new_id, primary_key=True)
    waybill: str = Field(index=True)
    carrier: str
    courier_id: str
    recipient_phone: str
    compartment: str = Field(foreign_key="compartment.label")
    group_id: str | None = Field(default=None, foreign_key="pickupgroup.id")
    state: ParcelState = Field(default=ParcelState.IN_LOCKER, sa_type=_stored(ParcelState))
    consent: str
    flagged_for_review: bool = False
    deposited_at: datetime = Field(default_factory=utcnow)
    closed_at: datetime | None = None
    # while its door stands open for a pickup or a return (``lifecycles.PICKUP``)
    opened_for: OpenedFor | None = Field(default=None, sa_type=_stored(OpenedFor))
    refusal: str = ""

    __table_args__ = (
        Index(
            "one_active_parcel_per_compartment",
            "compartment",
            unique=True,
            sqlite_where=text("state IN ('in_locker', 'return_pending')"),
        ),
    )


class Courier(SQLModel, table=True):
    id: str = Field(primary_key=True)
    carrier: str
    name: str = ""
    pin_hash: str
    salt: str
    expires_at: datetime
    revoked: bool = False


class CourierCode(SQLModel, table=True):
    """A cloud courier's code for one day here: its verifier (``locker_contract.credentials``)
    keyed under the bank key. The code itself is never stored, nor sent to the bank."""

    courier_id: str = Field(primary_key=True)
    day: str = Field(primary_key=True)  # ISO date, the site's local one
    starts_at: datetime  # that day's local midnights, in UTC: the bank needs no time zone
    ends_at: datetime
    salt: str
    code_hash: str


class Expected(SQLModel, table=True):
    """A waybill announced ahead by its carrier with the recipient's consent on record; two
    carriers' waybills are two announcements, however alike their numbers."""

    carrier: str = Field(primary_key=True)
    waybill: str = Field(primary_key=True)
    recipient_phone: str
    consent: str


class Deposit(SQLModel, table=True):
    """A courier's deposit in progress; its state survives a crash (see ``flows``)."""

    id: str = Field(default_factory=new_id, primary_key=True)
    courier_id: str
    carrier: str
    waybill: str
    recipient_phone: str
    size: str
    low: bool = False
    consent: str
    flagged_for_review: bool = False
    compartment: str | None = None
    state: DepositState = Field(sa_type=_stored(DepositState))
    tried: str = ""  # compartments that failed to open for this deposit, comma-separated
    outcome: str = ""  # why it ended, once RECORDED or ABANDONED
    parcel_id: str | None = None
    updated_at: datetime = Field(default_factory=utcnow)

    __table_args__ = (
        Index(
            "one_active_deposit_per_compartment",
            "compartment",
            unique=True,
            sqlite_where=text("state IN ('opening', 'open', 'resizing', 'cancelling')"),
        ),
    )


class Intent(SQLModel, table=True):
    """An unlock, committed before its frame is sent, and what became of it."""

    id: str = Field(default_factory=new_id, primary_key=True)
    compartment: str = Field(foreign_key="compartment.label", index=True)
    reason: str
    flow: UnlockFlow = Field(sa_type=_stored(UnlockFlow))
    ref: str
    state: IntentState = Field(default=IntentState.PENDING, sa_type=_stored(IntentState))
    created_at: datetime = Field(default_factory=utcnow)


class Hold(SQLModel, table=True):
    """A carrier's reservation of a compartment, pushed by the cloud: other carriers' walk-up
    deposits skip it. Consumed by the carrier's deposit there, or withdrawn by the cloud."""

    reservation_id: str = Field(primary_key=True)
    compartment: str = Field(foreign_key="compartment.label", index=True)
    carrier: str
    kind: str = "hard"


class CarrierPolicy(SQLModel, table=True):
    """A carrier's guaranteed share and ceiling at this bank, pushed by the cloud."""

    carrier: str = Field(primary_key=True)
    guaranteed: int
    ceiling: int


class StorageOutage(SQLModel, table=True):
    """A time the storage clock stopped (``controller.storage``): the bank in maintenance
    (``compartment`` empty) or a door that failed to open for its parcel; ``ended_at`` None
    while it lasts."""

    id: str = Field(default_factory=new_id, primary_key=True)
    compartment: str = Field(default="", index=True)
    cause: str
    started_at: datetime
    ended_at: datetime | None = None


class StorageTerms(SQLModel, table=True):
    """The storage policy a parcel was deposited under (JSON), and its fee once settled."""

    parcel_id: str = Field(foreign_key="parcel.id", primary_key=True)
    policy: str
    fee_minor: int | None = None  # what it owed when it left, once settled
    fee_state: str = ""  # paid, owed (the provider down or declining), or free
    fee_reference: str = ""  # the provider's reference of a payment
    settled_at: datetime | None = None


class AppliedCommand(SQLModel, table=True):
    """Every command id the bank has answered: applied at most once, answered every time."""

    command_id: str = Field(primary_key=True)
    type: str
    outcome: str  # applied, expired, rejected, failed
    detail: str = ""
    received_at: datetime = Field(default_factory=utcnow)


class Throttle(SQLModel, table=True):
    scope: str = Field(primary_key=True)
    consecutive: int = 0
    lockout_s: float = 0.0
    locked_until: float = 0.0  # CLOCK_MONOTONIC seconds, valid within ``boot_id``
    locked_until_wall: datetime | None = None
    boot_id: str = ""
    day: str = ""
    day_failures: int = 0
    disabled: bool = False


class Setting(SQLModel, table=True):
    key: str = Field(primary_key=True)
    value: str


class Outbox(SQLModel, table=True):
    """Events waiting to reach the cloud; ``seq`` is the bank's sequence number, never reused."""

    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True)
    type: str
    time: datetime = Field(default_factory=utcnow)  # when it was emitted
    body: str

    __table_args__ = {"sqlite_autoincrement": True}


def _on_connect(dbapi_connection: Any, _record: object) -> None:
    # Let SQLAlchemy's "begin" hook issue BEGIN IMMEDIATE: a writer takes the lock up front
    # instead of failing later on a read-to-write upgrade.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    # deleted rows (sent events, finished parcels) are overwritten with zeros, not left in
    # free pages; the WAL still holds old frames until a checkpoint reuses them, which is why
    # no secret is ever written here in plain (decision 0011)
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _on_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def open_store(path: Path) -> Engine:
    """Open (creating if needed) the bank's database at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    event.listen(engine, "connect", _on_connect)
    event.listen(engine, "begin", _on_begin)
    with engine.begin() as connection:
        _rekey_expected(connection)
    SQLModel.metadata.create_all(engine)
    return engine


def _rekey_expected(connection: Connection) -> None:
    """A store made before announcements were keyed by (carrier, waybill) (decision 0010) gets
    its ``expected`` table rebuilt with the new key, its rows kept."""
    columns = connection.exec_driver_sql("PRAGMA table_info(expected)").all()
    if [c[1] for c in columns if c[5]] != ["waybill"]:
        return  # new, or already rebuilt
    connection.exec_driver_sql("ALTER TABLE expected RENAME TO expected_old")
    SQLModel.metadata.tables["expected"].create(connection)
    names = "carrier, waybill, recipient_phone, consent"
    connection.exec_driver_sql(f"INSERT INTO expected ({names}) SELECT {names} FROM expected_old")
    connection.exec_driver_sql("DROP TABLE expected_old")


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """One write transaction: everything in it, events included, commits or nothing does."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        yield session


def emit(session: Session, event_: Event) -> Outbox:
    """Add ``event_`` to the outbox, in the caller's transaction."""
    row = Outbox(event_id=new_id(), type=event_.type, body=event_.model_dump_json())
    session.add(row)
    session.flush()
    return row


def envelope(bank_id: str, row: Outbox) -> Envelope:
    assert row.seq is not None
    return Envelope(
        event_id=uuid.UUID(row.event_id),
        bank_id=bank_id,
        seq=row.seq,
        time=row.time.replace(tzinfo=row.time.tzinfo or UTC),
        event=EventAdapter.validate_json(row.body),
    )


def outbox(
    session: Session, bank_id: str, after: int = 0, limit: int | None = None
) -> list[Envelope]:
    return [envelope(bank_id, row) for row in outbox_rows(session, after, limit)]


def outbox_rows(session: Session, after: int = 0, limit: int | None = None) -> list[Outbox]:
    query = select(Outbox).where(col(Outbox.seq) > after).order_by(col(Outbox.seq)).limit(limit)
    return list(session.exec(query))


def last_seq(session: Session) -> int:
    """The newest sequence number ever given (deleted rows included: SQLite never reuses one)."""
    found = session.connection().exec_driver_sql(
        "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'"
    )
    row = found.first()
    return int(row[0]) if row else 0


def drop_acknowledged(session: Session, upto: int) -> int:
    """Delete the events the cloud has applied; how many went."""
    gone = session.exec(delete(Outbox).where(col(Outbox.seq) <= upto))
    return int(gone.rowcount)


def get_setting(session: Session, key: str, default: str = "") -> str:
    row = session.get(Setting, key)
    return row.value if row else default


def put_setting(session: Session, key: str, value: str) -> None:
    session.merge(Setting(key=key, value=value))


def event_types(session: Session) -> list[str]:
    """Types of every event in the outbox, oldest first (for tests and the CLI)."""
    rows = session.exec(select(Outbox).order_by(col(Outbox.seq)))
    return [json.loads(row.body)["type"] for row in rows]
