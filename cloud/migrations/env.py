"""Alembic environment: the URL comes from the caller (``cloud.core.migrate``) or settings."""

from __future__ import annotations

from alembic import context

from cloud.core.db import make_engine
from cloud.schema import METADATA

config = context.config
target = METADATA


def run() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url, "set sqlalchemy.url (cloud.core.migrate does)"
    engine = make_engine(url)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run()
