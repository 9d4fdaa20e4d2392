"""Schemathesis against the cloud's OpenAPI schema: no 5xx, and every answer as documented.

Every operation is sent at least 25 generated requests (``make fuzz``: 100, through
``LOCKER_FUZZ_EXAMPLES``), valid and invalid ones, each with the key of a principal the operation
is for, so that requests reach the services rather than stop at 401/403. Half the time an id in
the path or the body is swapped for one that exists in the fleet, and a new resource's id for one
not used before, so that 200/201/409 answers get checked too, not only 404s and 409s. Then
Schemathesis's own deterministic cases (boundary values, missing and malformed fields) run once
per operation, always with the fleet's ids and fresh ones.

The checks: no 5xx, and each answer's status code, content type and body as the schema documents.
Bounded in time: no shrinking, a timeout per request, and a budget for the whole module.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from cloud.core.config import Settings
from cloud.main import create_app
from cloud.services.carriers import CONSENTS
from tests.cloud.conftest import bearer, build_cloud, fleet, postgres_database, secret

pytestmark = pytest.mark.slow

# Generated requests per operation, at least: 25 in the default run (every operation, on both
# databases, in about a quarter of the time), 100 under `make fuzz`
EXAMPLES = int(os.environ.get("LOCKER_FUZZ_EXAMPLES", "25"))
REQUEST_TIMEOUT_S = 10.0
MODULE_BUDGET_S = 300.0  # the whole module, per database; measured at 25-30 s on 2 cores
SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")  # a bank's or a carrier's id; fits a courier's too
SLUG_MAX = 63
BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
NUMBERS = itertools.count()
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# The schema only: this app never opens its database (in memory, created lazily). Requests go to
# the app that `fleet_cloud` builds on a migrated database (SQLite, then PostgreSQL).
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite://", secret_key=secret())).openapi()
)
# The keys are this run's throwaway ones; the Idempotency-Key is needed to reproduce a failure.
schema.config.output.sanitization.update(enabled=False)

# Who may call each operation; the fuzzing test draws one per request, the coverage test uses
# the first.
CALLERS: dict[str, tuple[str, ...]] = {
    # recipients' messages: a bank's for the console, a carrier's own (issue 14, decision 0016)
    "GET /api/v1/banks/{bank_id}/messages": ("manager", "operator", "admin"),
    "GET /api/v1/messages": ("sf", "jd"),
    # the SMS gateway's receipts: signed by the gateway, not a key (a fuzzed one is refused)
    "POST /api/v1/messages/receipts": ("sf",),
    "GET /api/v1/banks": ("sf", "jd"),
    "POST /api/v1/reservations": ("sf", "jd"),
    "GET /api/v1/reservations": ("sf", "jd"),
    "GET /api/v1/reservations/{reservation_id}": ("sf", "jd"),
    "DELETE /api/v1/reservations/{reservation_id}": ("sf", "jd"),
    "POST /api/v1/parcels": ("sf", "jd"),
    "GET /api/v1/parcels": ("sf", "jd"),
    "GET /api/v1/parcels/{waybill}": ("sf", "jd"),
    # a chilled or frozen parcel's temperature trace (issue 17)
    "GET /api/v1/parcels/{waybill}/trace": ("sf", "jd"),
    "GET /api/v1/parcels/{waybill}/trace.csv": ("sf", "jd"),
    "GET /api/v1/parcels/{waybill}/trace.svg": ("sf", "jd"),
    "GET /api/v1/couriers": ("sf", "jd"),
    "POST /api/v1/couriers": ("sf", "jd"),
    "GET /api/v1/courier/me": ("courier",),
    "GET /api/v1/sites/{site_id}/health": ("manager", "operator", "admin"),
    "POST /api/v1/operators": ("admin",),
    "POST /api/v1/sites": ("admin", "operator"),
    "POST /api/v1/banks": ("admin", "operator"),
    "POST /api/v1/carriers": ("admin",),
    "PUT /api/v1/banks/{bank_id}/policies/{carrier_id}": ("admin", "operator"),
    "POST /api/v1/sites/{site_id}/manager-keys": ("admin", "operator"),
    "DELETE /api/v1/couriers/{courier_id}": ("sf", "jd"),
    "POST /api/v1/banks/{bank_id}/compartments/{label}/open": ("manager", "operator", "admin"),
    "PUT /api/v1/banks/{bank_id}/maintenance": ("admin", "operator", "manager"),
    "PUT /api/v1/banks/{bank_id}/compartments/{label}/service": ("admin", "operator"),
    "POST /api/v1/banks/{bank_id}/keypad/reenable": ("admin", "operator"),
    # sites' storage policies (issue 14, decision 0017)
    "PUT /api/v1/sites/{site_id}/storage-policy": ("operator", "admin"),
    "GET /api/v1/sites/{site_id}/storage-policy": ("operator", "manager", "admin"),
    "GET /api/v1/banks/{bank_id}/commands": ("manager", "operator", "admin", "sf"),
    "GET /api/v1/keys": ("admin", "operator", "manager", "sf", "jd", "courier"),
    "DELETE /api/v1/keys/{key_id}": ("admin", "operator", "sf"),
    "POST /api/v1/keys/{key_id}/rotate": ("admin", "operator", "sf"),
    "GET /api/v1/shares": ("sf", "jd"),
    "POST /api/v1/shares/{bank_id}/accept": ("sf", "jd"),
    "POST /api/v1/shares/{bank_id}/withdraw": ("sf", "jd"),
    "GET /api/v1/banks/{bank_id}/courier-codes": ("sf", "jd", "courier"),
    "GET /api/v1/banks/{bank_id}/quarantine": ("operator", "admin"),
    "POST /api/v1/banks/{bank_id}/quarantine/{event_id}/release": ("operator", "admin"),
    "POST /api/v1/banks/{bank_id}/quarantine/{event_id}/drop": ("operator", "admin"),
    # carriers' webhooks, tracking and returns (issue 16)
    "POST /api/v1/webhooks": ("sf", "jd"),
    "GET /api/v1/webhooks": ("sf", "jd"),
    "PATCH /api/v1/webhooks/{endpoint_id}": ("sf", "jd"),
    "POST /api/v1/webhooks/{endpoint_id}/rotate": ("sf", "jd"),
    "POST /api/v1/webhooks/{endpoint_id}/ping": ("sf", "jd"),
    "GET /api/v1/webhooks/{endpoint_id}/deliveries": ("sf", "jd"),
    "POST /api/v1/webhooks/{endpoint_id}/replay": ("sf", "jd"),
    "GET /api/v1/tracking/{waybill}": ("sf", "jd"),
    "GET /api/v1/returns": ("sf", "jd"),
    # a recipient's standing answer on lockers (issue 14, decision 0018)
    "POST /api/v1/recipients/consent": ("sf", "jd"),
}


@dataclass
class Fleet:
    app: FastAPI
    keys: dict[str, dict[str, str]]  # principal -> Authorization header
    known: dict[str, list[str]]  # path parameter or body field -> values the fleet has


@dataclass
class Tally:
    examples: int = 0
    failed: bool = False


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def schema_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``database_url`` for the whole module: the fleet is built once per database. PostgreSQL
    refuses what SQLite stores (NUL in text), so a 500 may hide on one only."""
    if request.param == "sqlite":
        yield f"sqlite:///{Path(tmp_path_factory.mktemp('schema')) / 'cloud.db'}"
    else:
        yield from postgres_database()


@pytest.fixture(scope="module")
def fleet_cloud(schema_database: str) -> Iterator[Fleet]:
    """Banks maple and oak at two sites of one operator, carriers sf and jd; sf with a courier, a
    reservation and an announced parcel; a second operator, with no sites; spare manager keys
    to revoke and rotate."""
    with contextlib.contextmanager(build_cloud)(schema_database) as cloud:
        fleet(cloud, {"maple": {"S": 2, "M": 3, "L": 1, "XL": 1}, "oak": {"M": 2, "L": 1}})
        sf = cloud.keys["sf"]
        courier = cloud.ok("POST", "/api/v1/couriers", sf, json={"id": "sf-c1", "pin": "2468"})
        reservation = cloud.ok(
            "POST", "/api/v1/reservations", sf, json={"bank_id": "maple", "size": "M"}
        )
        parcel = {"waybill": "SF-W1", "bank_id": "maple", "recipient_phone": "13800138000"}
        cloud.ok("POST", "/api/v1/parcels", sf, json=parcel | {"consent": "recipient_app"})
        other = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Other Ltd"})
        spare = f"/api/v1/sites/{cloud.keys['site:maple']['id']}/manager-keys"
        spares = [cloud.ok("POST", spare, cloud.admin, json={})["key_id"] for _ in range(3)]
        keys = {
            "admin": cloud.admin,
            "operator": cloud.keys["operator"],
            "manager": cloud.keys["manager:maple"],
            "sf": sf,
            "jd": cloud.keys["jd"],
            "courier": bearer(courier["api_key"]),
        }
        known = {
            "reservation_id": [reservation["id"]],
            "waybill": ["SF-W1"],
            "site_id": [cloud.keys["site:maple"]["id"], cloud.keys["site:oak"]["id"]],
            "bank_id": ["maple", "oak"],
            "carrier_id": ["sf", "jd"],
            "operator_id": [other["id"]],
            "recipient_phone": ["13800138000"],
            "consent": list(CONSENTS),
            "label": ["A01", "A02", "A05"],
            "courier_id": ["sf-c1"],
            "key_id": spares,
        }
        app = cloud.client.app
        assert isinstance(app, FastAPI)
        yield Fleet(app, keys, known)


@pytest.fixture(scope="module")
def module_deadline(schema_database: str) -> float:
    """The budget runs once per database."""
    return time.monotonic() + MODULE_BUDGET_S


class OverBudget(Exception):
    """Raised by SIGALRM in the main thread: a test ran past the module's budget."""


@pytest.fixture(autouse=True)
def time_limit(module_deadline: float) -> Iterator[None]:
    """Fail a test that runs past the module's budget instead of letting it hang. The alarm
    fires once: fired again and again, it raised inside pytest's own report of the failure and
    aborted the whole run (INTERNALERROR); a test that swallows it is left to pytest-timeout."""
    remaining = module_deadline - time.monotonic()
    if remaining <= 0:
        pytest.fail(f"the module's budget of {MODULE_BUDGET_S:.0f} s was spent before this test")
    armed = True

    def expired(_signum: int, _frame: FrameType | None) -> None:
        if armed:
            raise OverBudget(f"past the module's budget of {MODULE_BUDGET_S:.0f} s")

    previous = signal.signal(signal.SIGALRM, expired)
    try:
        signal.setitimer(signal.ITIMER_REAL, remaining)
        yield
    finally:
        armed = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture
def tally() -> Iterator[Tally]:
    """Counts one operation's requests; fewer than EXAMPLES fails it (Hypothesis stops early,
    silently, when it cannot generate enough valid examples)."""
    counted = Tally()
    yield counted
    if not counted.failed:
        assert counted.examples >= EXAMPLES, f"only {counted.examples} requests were sent"


def fresh(value: str) -> str:
    """``value`` made unique by a number not used before (base 36): appended (``0`` becomes
    ``0-1z``) or, where a slug would grow too long, over its tail. It stays a valid slug."""
    number, tail = next(NUMBERS), ""
    while not tail or number:
        number, digit = divmod(number, 36)
        tail = BASE36[digit] + tail
    if len(value) + 1 + len(tail) <= SLUG_MAX:
        return f"{value}-{tail}"
    return value[: len(value) - len(tail)] + tail


def use_fleet_values(
    case: schemathesis.Case[Any], fleet: Fleet, choose: Callable[[list[str]], str | None]
) -> None:
    """Swap generated ids in the path and the body for ones the fleet has, and a new resource's
    id for one not used before, so that requests get past 404 and 409: ``choose`` picks the value,
    or None to keep the generated one. A value of the wrong type stays: it is its case's point."""
    containers = [case.path_parameters or {}]
    if isinstance(case.body, dict):
        containers.append(case.body)
    for container in containers:
        for name, value in list(container.items()):
            if not isinstance(value, str):
                continue
            if name in fleet.known:
                picked = choose(fleet.known[name])
            elif name == "id" and SLUG.fullmatch(value):
                picked = choose([fresh(value)])
            else:
                continue
            if picked is not None:
                container[name] = picked


def test_every_operation_has_callers() -> None:
    operations = set()
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # an operation Schemathesis cannot read
        operations.add(result.ok().label)
    assert operations == set(CALLERS)


@schema.given(data=st.data())
@schema.parametrize()
@hypothesis.settings(
    max_examples=EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: bounded in time
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_fuzzed_requests_get_documented_answers(
    case: schemathesis.Case[Any], data: st.DataObject, fleet_cloud: Fleet, tally: Tally
) -> None:
    tally.examples += 1
    try:
        caller = data.draw(st.sampled_from(CALLERS[case.operation.label]))

        def half_the_time(values: list[str]) -> str | None:
            return data.draw(st.sampled_from(values)) if data.draw(st.booleans()) else None

        use_fleet_values(case, fleet_cloud, half_the_time)
        case.call_and_validate(
            headers=fleet_cloud.keys[caller],
            checks=CHECKS,
            app=fleet_cloud.app,
            timeout=REQUEST_TIMEOUT_S,
        )
    except BaseException:
        tally.failed = True
        raise


@schema.parametrize()
@hypothesis.settings(deadline=None, phases=[Phase.explicit])
def test_coverage_cases_get_documented_answers(
    case: schemathesis.Case[Any], fleet_cloud: Fleet
) -> None:
    """Schemathesis's deterministic cases: boundary values, missing and malformed fields."""
    caller = CALLERS[case.operation.label][0]
    use_fleet_values(case, fleet_cloud, lambda values: values[0])
    case.call_and_validate(
        headers=fleet_cloud.keys[caller],
        checks=CHECKS,
        app=fleet_cloud.app,
        timeout=REQUEST_TIMEOUT_S,
    )
