"""The fleet the waves fill: one bank of carriers sharing it, and their API keys."""

from __future__ import annotations

from typing import Any

import httpx2
import psycopg

from benchmarks.allocation.config import (
    BANK_SIZE,
    CARRIERS,
    DIRECT_BANK,
    HTTP_BANK,
    HTTP_CREATED,
    HTTP_OK,
    SIZE,
)
from benchmarks.allocation.server import Server
from benchmarks.common import BenchmarkError


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def ok(client: httpx2.Client, method: str, path: str, key: str, **kw: Any) -> Any:
    answer = client.request(method, path, headers=bearer(key), **kw)
    if answer.status_code not in (HTTP_OK, HTTP_CREATED):
        raise BenchmarkError(f"{method} {path}: {answer.status_code} {answer.text}")
    return answer.json()


def labels(count: int) -> list[str]:
    """A00..A99, B00..B99, ...: labels the API accepts (a letter and two digits)."""
    return [f"{chr(ord('A') + n // 100)}{n % 100:02d}" for n in range(count)]


def set_up(server: Server) -> dict[str, str]:
    """An operator, a site with the two banks, the carriers; the carriers' API keys."""
    with httpx2.Client(base_url=server.url, timeout=30.0) as client:
        made = ok(client, "POST", "/api/v1/operators", server.admin_key, json={"name": "Bench"})
        operator = made["api_key"]
        where = {"name": "Bench site", "lat": 31.2, "lon": 121.4}
        site = ok(client, "POST", "/api/v1/sites", operator, json=where)["id"]
        for bank in (HTTP_BANK, DIRECT_BANK):
            compartments = [{"label": label, "size": SIZE.value} for label in labels(BANK_SIZE)]
            body = {"id": bank, "site_id": site, "name": bank, "compartments": compartments}
            ok(client, "POST", "/api/v1/banks", operator, json=body)
        keys = {}
        for carrier in CARRIERS:
            body = {"id": carrier, "name": carrier.upper()}
            keys[carrier] = ok(client, "POST", "/api/v1/carriers", server.admin_key, json=body)[
                "api_key"
            ]
    return keys


def key_ids(database_url: str) -> dict[str, str]:
    """Carrier -> the id of its API key: the actor its audit entries name."""
    with psycopg.connect(database_url) as db:
        rows = db.execute("SELECT carrier_id, id FROM apikey WHERE role = 'carrier'").fetchall()
    return {str(carrier): str(key) for carrier, key in rows}
