"""Fresh databases for tests, and the migrations' head put on them quickly.

Running every Alembic migration costs 0.15 to 0.3 s a database, and most cloud tests start from
a fresh one on each of SQLite and PostgreSQL. ``migrated`` runs the migrations once per session
(per pytest-xdist worker) into a template, then clones it into each fresh database: SQLite's
backup API copies the file, PostgreSQL's ``CREATE DATABASE ... TEMPLATE`` copies the database.
A database that already holds tables (migrated part way by a test, or a cloud started again on
its own database) is upgraded by Alembic as before; the migration tests
(``tests/cloud/test_migrations.py``) run Alembic itself on empty databases.
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import psycopg

PG_SERVER = "postgresql://postgres@127.0.0.1:5432/"
PG_ADMIN = PG_SERVER + "postgres"
SQLITE = "sqlite:///"

# kind ("sqlite", "postgres") -> the session's migrated template (a file path, a database name)
_templates: dict[str, str] = {}
# Empty PostgreSQL databases set aside by ``migrated`` (renamed, not dropped: every DROP DATABASE
# waits for checkpoints), for the next ``postgres_database`` to take under a new name.
_spares: list[str] = []


def new_database_name(kind: str = "test") -> str:
    return f"locker_{kind}_{uuid.uuid4().hex[:12]}"


def drop_postgres(name: str) -> None:
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class _Dropper:
    """Drops PostgreSQL databases in a thread of its own: a DROP DATABASE waits for two
    checkpoints, which the next test need not wait for. ``finish`` raises a drop's failure."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._failed: list[BaseException] = []

    def drop(self, name: str) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="test-dropdb")
        self._pool.submit(drop_postgres, name).add_done_callback(self._note)

    def _note(self, done: Future[None]) -> None:
        if (failure := done.exception()) is not None:
            self._failed.append(failure)

    def finish(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        failed, self._failed = self._failed, []
        if failed:
            raise failed[0]


_dropper = _Dropper()


def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database; dropped afterwards. The caller checks the service."""
    name = new_database_name()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        if _spares:
            admin.execute(f"ALTER DATABASE {_spares.pop()} RENAME TO {name}")
        else:
            admin.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_SERVER + name
    finally:
        # a connection this test left open is collected now, so that its ResourceWarning fails
        # this test's teardown rather than the whole run at exit, after every test has passed
        gc.collect()
        _dropper.drop(name)


def migrated(url: str) -> None:
    """The migrations' head on ``url``: cloned from the session's template when the database
    is fresh (an SQLite file not created yet, a PostgreSQL database without tables), else
    upgraded by Alembic."""
    if url.startswith(SQLITE) and "?" not in url:
        path = Path(url.removeprefix(SQLITE))
        if not path.exists():
            _clone_sqlite(path)
            return
    elif url.startswith(PG_SERVER) and "?" not in url:
        name = url.removeprefix(PG_SERVER)
        if not _has_tables(url):
            _clone_postgres(name)
            return
    upgrade(url)


def _clone_sqlite(path: Path) -> None:
    source = sqlite3.connect(_sqlite_template())
    target = sqlite3.connect(path)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def _sqlite_template() -> str:
    if "sqlite" not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="locker-template-"))
        try:
            upgrade(f"{SQLITE}{folder / 'cloud.db'}")
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        _templates["sqlite"] = str(folder / "cloud.db")
    return _templates["sqlite"]


def _has_tables(url: str) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_tables WHERE schemaname = 'public')"
        ).fetchone()
    return bool(row and row[0])


def _clone_postgres(name: str) -> None:
    template = _postgres_template()
    spare = new_database_name("spare")
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f"ALTER DATABASE {name} RENAME TO {spare}")
        _spares.append(spare)
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {template}")


def _postgres_template() -> str:
    if "postgres" not in _templates:
        template = new_database_name("template")
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {template}")
        try:
            upgrade(PG_SERVER + template)
        except BaseException:
            drop_postgres(template)
            raise
        _templates["postgres"] = template
    return _templates["postgres"]


def upgrade(url: str) -> None:
    """Alembic's upgrade to head, imported when first needed: runs of the bridge's or the
    twin's tests never load Alembic through the root conftest."""
    from cloud.core.migrate import upgrade as alembic_upgrade

    alembic_upgrade(url)


def clean_up() -> None:
    """At the session's end: the pending drops done, the templates and spares removed."""
    try:
        _dropper.finish()
    finally:
        _drop_templates()


def _drop_templates() -> None:
    if sqlite_template := _templates.pop("sqlite", None):
        shutil.rmtree(Path(sqlite_template).parent, ignore_errors=True)
    names, _spares[:] = list(_spares), []
    if postgres_template := _templates.pop("postgres", None):
        names.append(postgres_template)
    with contextlib.suppress(psycopg.OperationalError):  # the service went away meanwhile
        for name in names:
            drop_postgres(name)
