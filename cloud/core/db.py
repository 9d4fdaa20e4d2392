"""Database engines: PostgreSQL through psycopg 3 in production, SQLite by default.

SQLite gets WAL, foreign keys and ``BEGIN IMMEDIATE`` (writers serialise up front); PostgreSQL
gets a pool. Services open transactions with ``transaction``; row locks are taken there, written
``FOR UPDATE`` (``SKIP LOCKED``) whatever the database: SQLAlchemy leaves the clause out on
SQLite, whose ``BEGIN IMMEDIATE`` already serialises writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlmodel import Session, create_engine

POOL_SIZE = 10  # a worker's connections at rest; as many again at peak (max_overflow)


def _sqlite_connect(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    """An engine that never puts a statement's parameters (phones, codes) in an error or a log
    line: ``hide_parameters``."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(
        url,
        pool_size=POOL_SIZE,
        max_overflow=POOL_SIZE,
        pool_pre_ping=True,
        hide_parameters=True,
    )


@contextmanager
def transaction(bind: Engine | Connection) -> Iterator[Session]:
    """A session in a transaction, committed when the block ends, rolled back if it raises;
    on a connection already checked out (``bind``), the next transaction reuses it."""
    with Session(bind, expire_on_commit=False) as session, session.begin():
        yield session
