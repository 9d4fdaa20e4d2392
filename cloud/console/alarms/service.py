"""The console's alarms: listed, acknowledged and closed by a ``Person``, within its sites.

Every query joins the alarm's bank and keeps the person's sites only: another operator's (or
another site's) alarm is "not found" (404), never visible. States move through
``cloud.lifecycles.ALARM`` (raised -> acknowledged -> cleared; raised -> cleared), so a second
acknowledgement or a close of a cleared alarm is an ``IllegalTransition`` (409). A technical
alarm whose cause persists is refused closing with a ``Conflict`` that says why
(``cloud.console.alarms.classes``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from cloud.console.accounts.deps import Person, audit_person
from cloud.console.accounts.tables import Account
from cloud.console.alarms.classes import AlarmClass, class_of, kinds_of, persisting_cause
from cloud.core.db import transaction
from cloud.lifecycles import ALARM, AlarmState
from cloud.models import Alarm, Bank
from cloud.services import bulk
from cloud.services.errors import Conflict, Invalid, NotFound

NOTE_MAX = 500  # characters of a person's note
LIST_MAX = 500  # alarms in one listing, whatever is asked


@dataclass(frozen=True)
class AlarmView:
    """One alarm as a person sees it. ``closable`` says whether it may be closed by hand now;
    if not, ``why_not`` says why (its cause persists, or it is cleared)."""

    id: str
    bank_id: str
    bank_name: str
    site_id: str
    kind: str
    klass: AlarmClass
    compartment: str
    state: AlarmState
    raised_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None  # the person's name (or ``person:<id>`` if it is gone)
    acknowledged_note: str
    cleared_at: datetime | None
    cleared_by: str | None  # a person's name; None: cleared when its cause ended
    cleared_note: str
    escalated_at: datetime | None
    closable: bool
    why_not: str | None


Row = tuple[Alarm, str, str, bool]  # the alarm, its bank's site, name and whether online


Query = Select[Alarm, str, str, bool]


def _scoped(person: Person) -> Query:
    query = select(Alarm, Bank.site_id, Bank.name, Bank.online)
    query = query.join(Bank, col(Bank.id) == col(Alarm.bank_id))
    return query.where(col(Bank.site_id).in_(sorted(person.site_ids)))


def _state_filter(query: Query, state: AlarmState) -> Query:
    cleared, acked = col(Alarm.cleared_at), col(Alarm.acknowledged_at)
    if state is AlarmState.CLEARED:
        return query.where(cleared.is_not(None))
    query = query.where(cleared.is_(None))
    return query.where(acked.is_(None) if state is AlarmState.RAISED else acked.is_not(None))


def _class_filter(query: Query, klass: AlarmClass) -> Query:
    if klass is AlarmClass.TECHNICAL:  # with every kind nobody classified
        others = set().union(*(kinds_of(k) for k in AlarmClass if k is not klass))
        return query.where(col(Alarm.kind).not_in(sorted(others)))
    return query.where(col(Alarm.kind).in_(sorted(kinds_of(klass))))


def list_alarms(
    s: Session,
    person: Person,
    *,
    state: AlarmState | None = None,
    open_only: bool = False,
    site_id: str | None = None,
    bank_id: str | None = None,
    klass: AlarmClass | None = None,
    limit: int = 100,
) -> list[AlarmView]:
    """The person's alarms, newest first; ``open_only``: raised or acknowledged. A site or
    bank the person does not see is not found."""
    query = _scoped(person)
    if site_id is not None:
        if not person.sees(site_id):
            raise NotFound("no such site")
        query = query.where(col(Bank.site_id) == site_id)
    if bank_id is not None:
        bank = s.get(Bank, bank_id)
        if bank is None or not person.sees(bank.site_id):
            raise NotFound("no such bank")
        query = query.where(col(Alarm.bank_id) == bank_id)
    if state is not None:
        query = _state_filter(query, state)
    if open_only:
        query = query.where(col(Alarm.cleared_at).is_(None))
    if klass is not None:
        query = _class_filter(query, klass)
    query = query.order_by(col(Alarm.raised_at).desc(), col(Alarm.id))
    rows = list(s.exec(query.limit(max(1, min(limit, LIST_MAX)))))
    return _views(s, rows)


def get_alarm(s: Session, person: Person, alarm_id: str) -> AlarmView:
    """One alarm of the person's sites; another's is not found."""
    return _views(s, [_row(s, person, alarm_id)])[0]


def acknowledge(
    engine: Engine, person: Person, alarm_id: str, note: str, at: datetime
) -> AlarmView:
    """The person saw the alarm and says so (with a note): it stays open until cleared."""
    note = _note(note)
    with transaction(engine) as s:
        row = _row(s, person, alarm_id, lock=True)
        alarm = row[0]
        ALARM.step(alarm.state, AlarmState.ACKNOWLEDGED)
        alarm.acknowledged_at, alarm.acknowledged_by = at, person.actor
        alarm.acknowledged_note = note
        s.add(alarm)
        audit_person(s, person, "alarm.acknowledge", alarm.id, kind=alarm.kind, note=note)
        return _views(s, [row])[0]


def close(engine: Engine, person: Person, alarm_id: str, note: str, at: datetime) -> AlarmView:
    """The person closes the alarm; a technical one is refused while its cause persists."""
    note = _note(note)
    with transaction(engine) as s:
        row = _row(s, person, alarm_id, lock=True)
        alarm, online = row[0], row[3]
        ALARM.step(alarm.state, AlarmState.CLEARED)
        cause = cause_persists(alarm, bank_online=online)
        if cause is not None:
            raise Conflict(
                f"a {alarm.kind} alarm cannot be closed while its cause persists: {cause}",
                kind=alarm.kind,
                cause=cause,
            )
        alarm.clear(at)
        alarm.cleared_by, alarm.cleared_note = person.actor, note
        s.add(alarm)
        audit_person(s, person, "alarm.close", alarm.id, kind=alarm.kind, note=note)
        return _views(s, [row])[0]


def cause_persists(alarm: Alarm, *, bank_online: bool) -> str | None:
    """Why ``alarm`` may not be closed by hand now; None if it may. A bank offline alarm whose
    bank is back online (its clear still to come) may be closed."""
    if alarm.kind == "bank.offline" and bank_online:
        return None
    return persisting_cause(alarm.kind)


def _note(note: str) -> str:
    note = note.strip()
    if len(note) > NOTE_MAX:
        raise Invalid(f"a note is at most {NOTE_MAX} characters")
    return note


def _row(s: Session, person: Person, alarm_id: str, *, lock: bool = False) -> Row:
    query = _scoped(person).where(col(Alarm.id) == alarm_id)
    if lock:
        query = query.with_for_update(of=Alarm)
    found = s.exec(query).first()
    if found is None:
        raise NotFound("no such alarm")
    return found


def _names(s: Session, actors: set[str]) -> dict[str, str]:
    ids = {actor.removeprefix("person:") for actor in actors}
    if not ids:
        return {}
    query = select(Account.id, Account.name).where(bulk.among(s, Account.id, sorted(ids)))
    return {f"person:{pid}": name for pid, name in s.exec(query)}


def _views(s: Session, rows: Sequence[Row]) -> list[AlarmView]:
    actors = {r[0].acknowledged_by for r in rows} | {r[0].cleared_by for r in rows}
    names = _names(s, {actor for actor in actors if actor})
    return [_view(row, names) for row in rows]


def _view(row: Row, names: dict[str, str]) -> AlarmView:
    alarm, site_id, name, online = row
    state = alarm.state
    cleared = state is AlarmState.CLEARED
    why_not = "it is cleared" if cleared else cause_persists(alarm, bank_online=online)
    return AlarmView(
        id=alarm.id,
        bank_id=alarm.bank_id,
        bank_name=name,
        site_id=site_id,
        kind=alarm.kind,
        klass=class_of(alarm.kind),
        compartment=alarm.compartment,
        state=state,
        raised_at=alarm.raised_at,
        acknowledged_at=alarm.acknowledged_at,
        acknowledged_by=_who(alarm.acknowledged_by, names),
        acknowledged_note=alarm.acknowledged_note,
        cleared_at=alarm.cleared_at,
        cleared_by=_who(alarm.cleared_by, names),
        cleared_note=alarm.cleared_note,
        escalated_at=alarm.escalated_at,
        closable=why_not is None,
        why_not=why_not,
    )


def _who(actor: str | None, names: dict[str, str]) -> str | None:
    return None if actor is None else names.get(actor, actor)
