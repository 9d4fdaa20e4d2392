"""SQL for many rows at once, in the session's dialect: what ingest's batches are written with.

PostgreSQL is sent one array parameter where a list of values is asked about (``= ANY(...)``):
an ``IN`` list of 500 values is 500 parameters that the driver parses into the statement each
time; SQLite, which has no arrays, gets the ``IN`` list.

Many rows written go to PostgreSQL as one JSON parameter read back as a relation
(``json_to_recordset``): ``json.dumps`` writes it in C, where the driver dumps an array per
column value by value in Python and an ``executemany`` sends a statement per row (either was
most of an ingest batch's CPU, issue 13). SQLite gets one statement of many ``VALUES``.

A few rows written at once without the ORM's unit of work (``write``): what a reservation writes
(decision 0032). Building, sorting and flushing objects cost the API more than the statements.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from functools import cache
from uuid import UUID

from sqlalchemy import (
    JSON,
    ColumnElement,
    Insert,
    String,
    Table,
    Text,
    any_,
    bindparam,
    cast,
    column,
    func,
    insert,
    inspect,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import TableValuedAlias
from sqlmodel import Session, SQLModel, col


def postgres(s: Session) -> bool:
    return s.get_bind().dialect.name == "postgresql"


def insert_ignoring(s: Session, table: type[SQLModel]) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING``: a row that a unique constraint already holds is
    skipped, not an error."""
    if postgres(s):
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


def among(
    s: Session, column: InstrumentedAttribute[str] | str, values: Collection[str]
) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (text values)."""
    if postgres(s):
        array = bindparam(None, list(values), type_=postgresql.ARRAY(String()))
        return col(column) == any_(array)
    return col(column).in_(list(values))


Row = Mapping[str, object]


def insert_new(s: Session, table: type[SQLModel], rows: Sequence[Row], key: str) -> set[str]:
    """Insert ``rows`` (all with the same columns) but those a unique constraint already holds;
    the ``key`` column of those inserted, in one statement however many rows."""
    if not rows:
        return set()
    if not postgres(s):
        query = insert_ignoring(s, table).returning(getattr(table, key))
        return {str(value) for (value,) in s.execute(query, list(rows))}
    names = list(rows[0])
    listed = ", ".join(f'"{name}"' for name in names)
    statement = text(
        f"INSERT INTO {inspect(table).local_table.name} ({listed}) "
        f"SELECT {listed} FROM {recordset(s, table, names)} "
        f"ON CONFLICT DO NOTHING RETURNING {key}"
    )
    return {str(value) for (value,) in s.execute(statement, {"rows": rows_json(rows)})}


def insert_rows(
    s: Session, table: type[SQLModel], rows: Sequence[Row]
) -> tuple[postgresql.Insert | sqlite.Insert, Row]:
    """One ``INSERT`` of ``rows`` (all with the same columns, at least one) and the parameters
    to run it with; an ``ON CONFLICT`` clause may be added (``postgresql``/``sqlite`` insert)."""
    if not postgres(s):
        return sqlite.insert(table).values([dict(row) for row in rows]), {}
    names = list(rows[0])
    columns = inspect(table).columns
    listed = ", ".join(f'"{name}"' for name in names)
    source = text(f"SELECT {listed} FROM {recordset(s, table, names)}")
    typed = source.columns(*(column(name, columns[name].type) for name in names))
    return postgresql.insert(table).from_select(names, typed), {"rows": rows_json(rows)}


def write(s: Session, table: type[SQLModel], rows: Sequence[Row]) -> None:
    """Insert ``rows`` (all with the same columns; the columns' defaults fill the rest) now, in
    one statement, as plain SQL: nothing enters the session. What the session holds unwritten is
    flushed first, so that a row finds the rows its foreign keys name."""
    if not rows:
        return
    s.flush()
    s.connection().execute(inserting(table), rows[0] if len(rows) == 1 else list(rows))


@cache
def inserting(table: type[SQLModel]) -> Insert:
    """``INSERT INTO`` the table, as plain SQL: built once per table."""
    return insert(table_of(table))


def table_of(model: type[SQLModel]) -> Table:
    found = inspect(model).local_table
    assert isinstance(found, Table)
    return found


def columns(row: SQLModel) -> Row:
    """An entity's column values, as ``write`` takes them (an object built, never added)."""
    return {c.name: getattr(row, c.name) for c in table_of(type(row)).columns}


def update_rows(
    s: Session, table: type[SQLModel], key: str, rows: Sequence[Row], also: Row | None = None
) -> None:
    """Set each row's columns (and ``also``'s, the same for all) where ``key`` is the row's."""
    if not rows:
        return
    name = inspect(table).local_table.name
    names = [n for n in rows[0] if n != key]
    fixed = dict(also or {})
    if postgres(s):
        assigned = [f'"{n}" = r."{n}"' for n in names] + [f'"{n}" = :{n}' for n in fixed]
        statement = text(
            f"UPDATE {name} SET {', '.join(assigned)} "
            f'FROM {recordset(s, table, [key, *names])} WHERE {name}."{key}" = r."{key}"'
        )
        s.connection().execute(statement, {"rows": rows_json(rows)} | fixed)
        return
    # typed binds (a time stored as the column type writes it), named apart from the columns
    local = inspect(table).local_table
    query = update(local).where(local.c[key] == bindparam(f"_{key}"))
    query = query.values({n: bindparam(f"_{n}") for n in names} | fixed)
    s.connection().execute(query, [{f"_{n}": v for n, v in row.items()} for row in rows])


def recordset(s: Session, table: type[SQLModel], names: Sequence[str]) -> str:
    """PostgreSQL: the ``:rows`` parameter (``rows_json``) as a relation ``r`` of ``names``,
    each typed as ``table``'s column of that name."""
    columns = inspect(table).columns
    dialect = s.get_bind().dialect

    def sql_type(name: str) -> str:
        kind = columns[name].type
        return "JSON" if isinstance(kind, JSON) else str(kind.compile(dialect=dialect))

    typed = ", ".join(f'"{name}" {sql_type(name)}' for name in names)
    return f"json_to_recordset(CAST(:rows AS JSON)) AS r({typed})"


def relation(table: type[SQLModel], names: Sequence[str]) -> TableValuedAlias:
    """``recordset`` as an expression (PostgreSQL): the ``:rows`` parameter as a relation ``r``
    whose columns (``r.c.<name>``) a query built with SQLAlchemy can name."""
    columns = inspect(table).columns
    rows = func.json_to_recordset(cast(bindparam("rows", type_=Text()), JSON))
    typed = rows.table_valued(*(column(name, columns[name].type) for name in names))
    return typed.render_derived(name="r", with_types=True)


def rows_json(rows: Sequence[Row]) -> str:
    return json.dumps([dict(row) for row in rows], default=_json_value)


def _json_value(value: object) -> str:
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise ValueError("a datetime without its offset: only aware datetimes are stored")
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not written as JSON")
