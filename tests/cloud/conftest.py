"""The cloud on SQLite and on PostgreSQL: a fresh database per test, built by the migrations."""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from cloud.clock import Clock
from cloud.core.config import Settings
from cloud.main import create_app
from cloud.services.auth import create_admin
from tests.conftest import postgres_database
from tests.databases import migrated

__all__ = ["postgres_database"]  # database_url, the fixture, is in tests/conftest.py


def secret() -> str:
    return secrets.token_hex(32)


@dataclass
class Cloud:
    client: TestClient
    settings: Settings
    admin: dict[str, str]
    keys: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        """The app's database engine, for tests that look at or seed rows directly."""
        engine: Engine = self.client.app.state.engine  # type: ignore[attr-defined]
        return engine

    def call(self, method: str, url: str, key: dict[str, str], **kw: Any) -> Any:
        return self.client.request(method, url, headers=key | kw.pop("headers", {}), **kw)

    def ok(self, method: str, url: str, key: dict[str, str], **kw: Any) -> Any:
        answer = self.call(method, url, key, **kw)
        assert answer.status_code in (200, 201, 202), answer.text
        return answer.json()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def build_cloud(database_url: str, clock: Clock | None = None) -> Iterator[Cloud]:
    settings = Settings(database_url=database_url, secret_key=secret(), rate_per_minute=100_000)
    migrated(database_url)
    app = create_app(settings, clock)
    try:  # disposed whatever happens, before the database_url fixture drops a database
        admin = bearer(create_admin(app.state.engine, settings.secret_key, "test admin"))
        with TestClient(app) as client:
            yield Cloud(client, settings, admin)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def cloud(database_url: str) -> Iterator[Cloud]:
    yield from build_cloud(database_url)


def compartments(sizes: dict[str, int], row: str = "A") -> list[dict[str, object]]:
    """Labels A01.. with the given number of each size, smallest first."""
    out: list[dict[str, object]] = []
    for size, count in sizes.items():
        for _ in range(count):
            out.append({"label": f"{row}{len(out) + 1:02d}", "size": size})
    return out


Compartments = dict[str, int] | list[dict[str, object]]  # sizes counted, or each described


def fleet(
    cloud: Cloud, banks: Mapping[str, Compartments], carriers: tuple[str, ...] = ("sf", "jd")
) -> None:
    """An operator, one site per bank (1 km apart), the banks, carriers, a manager per site."""
    made = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Estates Ltd"})
    cloud.keys["operator"] = bearer(made["api_key"])
    for n, (bank_id, sizes) in enumerate(banks.items()):
        where = {"name": f"Site {bank_id}", "lat": 31.2 + n * 0.009, "lon": 121.4}
        site = cloud.ok("POST", "/api/v1/sites", cloud.keys["operator"], json=where)
        body = {
            "id": bank_id,
            "site_id": site["id"],
            "name": bank_id,
            "compartments": sizes if isinstance(sizes, list) else compartments(sizes),
        }
        cloud.ok("POST", "/api/v1/banks", cloud.keys["operator"], json=body)
        manager = cloud.ok(
            "POST", f"/api/v1/sites/{site['id']}/manager-keys", cloud.keys["operator"], json={}
        )
        cloud.keys[f"manager:{bank_id}"] = bearer(manager["api_key"])
        cloud.keys[f"site:{bank_id}"] = {"id": site["id"]}
    for carrier in carriers:
        made = cloud.ok(
            "POST", "/api/v1/carriers", cloud.admin, json={"id": carrier, "name": carrier.upper()}
        )
        cloud.keys[carrier] = bearer(made["api_key"])
