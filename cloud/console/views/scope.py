"""Who reads, and what they may see: the sites a viewer is given, inside the viewer's operator.

``Viewer`` is the shape the read models need of a signed-in person (task B's ``Person`` has it):
its operator and the ids of the sites it sees. Both are checked in SQL, so a site id given to a
person by mistake from another operator still shows nothing. An empty set of sites sees nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import ColumnElement, false, inspect
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from cloud.models import Bank, Site
from cloud.services import bulk
from cloud.services.errors import Invalid, NotFound

MAX_LIMIT = 500  # rows per page, whatever a page asks for


class Viewer(Protocol):
    @property
    def operator_id(self) -> str | None: ...

    @property
    def site_ids(self) -> frozenset[str]: ...


def sites_seen(s: Session, viewer: Viewer) -> ColumnElement[bool]:
    """The condition on ``Site`` rows the viewer sees."""
    if not viewer.site_ids or viewer.operator_id is None:
        return false()
    return bulk.among(s, Site.id, viewer.site_ids) & (col(Site.operator_id) == viewer.operator_id)


def banks_seen(s: Session, viewer: Viewer) -> SelectOfScalar[str]:
    """The ids of the banks the viewer sees, as a subquery to filter by."""
    query = select(Bank.id).join(Site, col(Site.id) == col(Bank.site_id))
    return query.where(sites_seen(s, viewer))


def seen_bank(s: Session, viewer: Viewer, bank_id: str) -> Bank:
    """The bank, if the viewer sees it; else ``NotFound``, whether absent or another's."""
    query = select(Bank).join(Site, col(Site.id) == col(Bank.site_id))
    bank = s.exec(query.where(col(Bank.id) == bank_id, sites_seen(s, viewer))).first()
    if bank is None:
        raise NotFound("no such bank")
    return bank


def seen_site(s: Session, viewer: Viewer, site_id: str) -> Site:
    query = select(Site).where(col(Site.id) == site_id, sites_seen(s, viewer))
    site = s.exec(query).first()
    if site is None:
        raise NotFound("no such site")
    return site


def json_text(table: type[SQLModel], column: str, key: str) -> ColumnElement[str]:
    """``key`` of the JSON ``column`` of ``table``, as text (``->>`` / ``json_extract``)."""
    found: ColumnElement[str] = inspect(table).columns[column][key].as_string()
    return found


def utc(at: datetime) -> datetime:
    """``at`` in UTC; ``Invalid`` for a time without a zone or one UTC cannot hold (year 0)."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise Invalid("a time needs its zone")
    try:
        return at.astimezone(UTC)
    except OverflowError:
        raise Invalid("a time out of range") from None


def clamp(limit: int) -> int:
    """A page's size: at least 1, at most ``MAX_LIMIT``."""
    if limit < 1:
        raise Invalid("a page holds at least one row")
    return min(limit, MAX_LIMIT)
