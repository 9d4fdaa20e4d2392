"""SQL for many rows at once, in the session's dialect: what ingest's batches are written with.

PostgreSQL is sent one array parameter where a list of values is asked about (``= ANY(...)``):
an ``IN`` list of 500 values is 500 parameters that the driver parses into the statement each
time; SQLite, which has no arrays, gets the ``IN`` list.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from sqlalchemy import JSON, ColumnElement, Insert, String, any_, bindparam, inspect, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import InstrumentedAttribute
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


def insert_new(
    s: Session, table: type[SQLModel], rows: Sequence[dict[str, object]], key: str
) -> set[str]:
    """Insert ``rows`` (all with the same columns) but those a unique constraint already holds;
    the ``key`` column of those inserted. On PostgreSQL, one statement whose parameters are one
    array per column (``unnest``), however many rows."""
    if not rows:
        return set()
    if not postgres(s):
        query = insert_ignoring(s, table).returning(getattr(table, key))
        return {str(value) for (value,) in s.execute(query, list(rows))}
    columns = inspect(table).columns
    names = list(rows[0])
    arrays, selected = [], []
    for name in names:
        kind = columns[name].type
        json = isinstance(kind, JSON)
        sql_type = "TEXT" if json else kind.compile(dialect=s.get_bind().dialect)
        arrays.append(f"CAST(:{name} AS {sql_type}[])")
        selected.append(f'CAST("{name}" AS JSON)' if json else f'"{name}"')
    listed = ", ".join(f'"{name}"' for name in names)
    statement = text(
        f"INSERT INTO {inspect(table).local_table.name} ({listed}) "
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) AS u({listed}) "
        f"ON CONFLICT DO NOTHING RETURNING {key}"
    )
    params = {
        name: [
            json_text(row[name]) if isinstance(columns[name].type, JSON) else row[name]
            for row in rows
        ]
        for name in names
    }
    return {str(value) for (value,) in s.execute(statement, params)}


def json_text(value: object) -> str:
    return json.dumps(value)
