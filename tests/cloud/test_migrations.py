"""The migrations build exactly the models' schema, go down cleanly, and settings refuse
placeholder secrets."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from pydantic import ValidationError

from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.core.migrate import downgrade, upgrade
from cloud.schema import METADATA


def test_migrations_match_the_models_and_go_down(database_url: str) -> None:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:  # disposed even when a check fails, before the fixture drops the database
        with engine.connect() as connection:
            drift = compare_metadata(MigrationContext.configure(connection), METADATA)
        assert drift == []
        downgrade(database_url, "base")
        with engine.connect() as connection:
            assert connection.dialect.get_table_names(connection) == ["alembic_version"]
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "secret", ["changethis" * 4, "x" * 40, "short", "my-default-secret-key-for-development-only"]
)
def test_placeholder_secrets_are_refused(secret: str) -> None:
    with pytest.raises(ValidationError):
        Settings(secret_key=secret)
