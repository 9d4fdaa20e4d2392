"""No input makes the cloud answer 500: NUL, lone surrogates and NaN in bodies, paths, queries
and headers are refused with a 422 that echoes none of them (PostgreSQL refuses NUL in text and
no JSON encoder takes a lone surrogate or a NaN)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI

from cloud.services.errors import Conflict
from tests.cloud.conftest import Cloud, fleet

NUL, SURROGATE = "\x00", "\ud800"
KEY_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def fleet_cloud(cloud: Cloud) -> Cloud:
    fleet(cloud, {"maple": {"M": 2}}, carriers=("sf",))
    cloud.keys["admin"] = cloud.admin
    return cloud


def raw(body: str) -> dict[str, Any]:
    """A request body sent as written: JSON escapes for surrogates, a bare NaN."""
    return {"content": body.encode(), "headers": {"Content-Type": "application/json"}}


PARCEL = '{"waybill": %s, "bank_id": "maple", "recipient_phone": %s, "consent": "recipient_app"}'
SITE = '{"name": "S", "lat": 1, "lon": 1, %s}'
CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    # (caller, method, path, request arguments)
    ("sf", "POST", "/api/v1/parcels", raw(PARCEL % ('"SF\\u0000W1"', '"13800138000"'))),
    ("sf", "POST", "/api/v1/parcels", raw(PARCEL % ('"SF\\ud800W1"', '"13800138000"'))),
    ("sf", "POST", "/api/v1/parcels", raw(PARCEL % ('"SF-W1"', '"1380013\\u00008000"'))),
    ("sf", "POST", "/api/v1/reservations", raw('{"bank_id": "maple", "size": "M", "ttl_s": NaN}')),
    ("sf", "POST", "/api/v1/reservations", raw('{"bank_id": "ma\\u0000ple", "size": "M"}')),
    ("admin", "POST", "/api/v1/operators", raw('{"name": "\\udfff Ltd"}')),
    ("admin", "POST", "/api/v1/sites", raw('{"name": "S", "lat": NaN, "lon": 1.0}')),
    ("admin", "POST", "/api/v1/sites", raw(SITE % '"address": "\\u0000"')),
    ("admin", "POST", "/api/v1/sites", raw(SITE % '"operator_id": "\\u0000"')),
    ("admin", "POST", "/api/v1/carriers", raw('{"id": "yt", "name": "Y\\u0000T"}')),
    ("operator", "POST", "/api/v1/banks/maple/compartments/A01/open",
     raw('{"reason": "st\\u0000uck"}')),
    ("admin", "POST", f"/api/v1/keys/{KEY_ID}/rotate", raw('{"overlap_s": NaN}')),
    ("sf", "GET", "/api/v1/parcels/SF%00W1", {}),
    ("sf", "GET", "/api/v1/reservations/r%00", {}),
    ("sf", "DELETE", "/api/v1/couriers/c%00", {}),
    ("admin", "GET", "/api/v1/sites/s%00/health", {}),
    ("admin", "GET", "/api/v1/banks/maple%00/commands", {}),
    ("admin", "PUT", "/api/v1/banks/m%00/policies/sf", {"json": {"guaranteed": 0, "ceiling": 1}}),
    ("admin", "DELETE", "/api/v1/keys/k%00", {}),
    ("sf", "GET", "/api/v1/reservations?state=active%00", {}),
    ("admin", "GET", "/api/v1/keys?role=admin%00", {}),
    ("sf", "POST", "/api/v1/reservations",
     {"json": {"bank_id": "maple", "size": "M"}, "headers": {"Idempotency-Key": "k\x01"}}),
]  # fmt: skip


@pytest.mark.parametrize(("caller", "method", "path", "kw"), CASES)
def test_bad_text_and_numbers_answer_422_without_echoing_them(
    fleet_cloud: Cloud, caller: str, method: str, path: str, kw: dict[str, Any]
) -> None:
    answer = fleet_cloud.call(method, path, fleet_cloud.keys[caller], **kw)
    assert answer.status_code == 422, answer.text
    answer.content.decode("utf-8")  # strict: no lone surrogate made it out
    issues = answer.json()["detail"]
    assert isinstance(issues, list)
    assert issues
    assert set(issues[0]) == {"loc", "msg", "type"}
    text = json.dumps(issues)
    for bad in ("\\u0000", "\\ud800", "\\udfff", "NaN", "\\u0001"):
        assert bad not in text


def test_a_nul_in_the_api_key_is_refused_not_looked_up(fleet_cloud: Cloud) -> None:
    answer = fleet_cloud.call("GET", "/api/v1/banks", {"Authorization": "Bearer lk_\x00x"})
    assert answer.status_code == 422
    assert "\\u0000" not in answer.text


def test_a_huge_invalid_field_gets_a_small_answer(fleet_cloud: Cloud) -> None:
    body = {"waybill": "W" * 100_000, "bank_id": "maple", "recipient_phone": "13800138000"}
    answer = fleet_cloud.call(
        "POST", "/api/v1/parcels", fleet_cloud.keys["sf"], json=body | {"consent": "recipient_app"}
    )
    assert answer.status_code == 422
    assert len(answer.content) < 1000


def test_errors_from_the_services_quote_bad_text_sanitised(fleet_cloud: Cloud) -> None:
    """A service's refusal that quotes what it refused still encodes, bounded and printable."""
    app = fleet_cloud.client.app
    assert isinstance(app, FastAPI)

    @app.get("/test/refusal")
    def refusal() -> None:
        raise Conflict(f"waybill W{SURROGATE}{NUL} {'x' * 5000} is taken", nearest=f"a{NUL}b")

    answer = fleet_cloud.client.get("/test/refusal")
    assert answer.status_code == 409
    body = answer.content.decode("utf-8")
    assert "\\u0000" not in body
    assert "\\ud800" not in body
    assert len(body) < 1000
    assert answer.json()["detail"].startswith("waybill W\N{REPLACEMENT CHARACTER}")
