"""Tenant isolation: every scoped endpoint, called with another tenant's credentials, refuses,
and no response ever carries another tenant's data."""

from __future__ import annotations

import json

import pytest

from tests.cloud.conftest import Cloud, bearer, fleet


@pytest.fixture
def tenants(cloud: Cloud) -> Cloud:
    """sf and jd each with a reservation, an announced parcel and a courier; two sites."""
    fleet(cloud, {"maple": {"M": 4}, "oak": {"M": 4}})
    for carrier in ("sf", "jd"):
        key = cloud.keys[carrier]
        made = cloud.ok("POST", "/api/v1/reservations", key, json={"bank_id": "maple", "size": "M"})
        cloud.keys[f"{carrier}:reservation"] = {"id": made["id"]}
        parcel = {"waybill": f"{carrier.upper()}-W1", "bank_id": "maple"}
        parcel |= {"recipient_phone": "13800138000", "consent": "recipient_app"}
        cloud.ok("POST", "/api/v1/parcels", key, json=parcel)
        courier = cloud.ok(
            "POST", "/api/v1/couriers", key, json={"id": f"{carrier}-c1", "pin": "2468"}
        )
        cloud.keys[f"{carrier}:courier"] = bearer(courier["api_key"])
        (own,) = cloud.ok("GET", "/api/v1/keys", key, params={"role": "carrier"})
        cloud.keys[f"{carrier}:key"] = {"id": own["id"]}
    return cloud


def secrets_of(cloud: Cloud, carrier: str) -> set[str]:
    """Identifiers only ``carrier`` (and the fleet's staff) may see."""
    return {
        cloud.keys[f"{carrier}:reservation"]["id"], f"{carrier.upper()}-W1", f"{carrier}-c1",
        cloud.keys[f"{carrier}:key"]["id"],
    }  # fmt: skip


def other_tenants_calls(cloud: Cloud) -> list[tuple[str, str, str, int]]:
    """(caller, method, path, expected refusal) for resources that belong to someone else."""
    jd_reservation = cloud.keys["jd:reservation"]["id"]
    oak_site = cloud.keys["site:oak"]["id"]
    jd_key = cloud.keys["jd:key"]["id"]
    return [
        ("sf", "GET", f"/api/v1/reservations/{jd_reservation}", 404),
        ("sf", "DELETE", f"/api/v1/reservations/{jd_reservation}", 404),
        ("sf", "GET", "/api/v1/parcels/JD-W1", 404),
        ("manager:maple", "GET", f"/api/v1/sites/{oak_site}/health", 404),
        ("sf:courier", "GET", "/api/v1/reservations", 403),
        ("sf:courier", "GET", "/api/v1/parcels", 403),
        ("sf:courier", "GET", "/api/v1/couriers", 403),
        ("manager:maple", "GET", "/api/v1/reservations", 403),
        ("manager:maple", "POST", "/api/v1/carriers", 403),
        ("sf", "GET", f"/api/v1/sites/{oak_site}/health", 403),
        ("sf", "POST", "/api/v1/operators", 403),
        ("sf", "PUT", "/api/v1/banks/maple/policies/sf", 403),
        ("sf", "GET", "/api/v1/courier/me", 403),
        ("operator", "GET", "/api/v1/reservations", 403),
        ("sf", "DELETE", f"/api/v1/keys/{jd_key}", 404),
        ("sf", "POST", f"/api/v1/keys/{jd_key}/rotate", 404),
        ("sf:courier", "DELETE", f"/api/v1/keys/{jd_key}", 404),
        ("manager:maple", "POST", f"/api/v1/keys/{jd_key}/rotate", 404),
        ("operator", "DELETE", f"/api/v1/keys/{jd_key}", 404),
    ]


def test_another_tenants_resources_are_refused(tenants: Cloud) -> None:
    bodies = {"POST": {"id": "x", "name": "x"}, "PUT": {"guaranteed": 0, "ceiling": 4}}
    for caller, method, path, expected in other_tenants_calls(tenants):
        answer = tenants.call(method, path, tenants.keys[caller], json=bodies.get(method))
        assert answer.status_code == expected, (caller, method, path, answer.text)
    jd = tenants.ok(
        "GET", f"/api/v1/reservations/{tenants.keys['jd:reservation']['id']}", tenants.keys["jd"]
    )
    assert jd["state"] == "active"  # sf's DELETE did nothing
    tenants.ok("GET", "/api/v1/banks", tenants.keys["jd"])  # nobody else revoked jd's key


def test_no_response_carries_another_tenants_data(tenants: Cloud) -> None:
    own_reads = {
        "sf": ["/api/v1/banks", "/api/v1/reservations", "/api/v1/parcels", "/api/v1/couriers",
               "/api/v1/parcels/SF-W1", "/api/v1/keys"],
        "sf:courier": ["/api/v1/courier/me", "/api/v1/keys"],
        "manager:maple": [f"/api/v1/sites/{tenants.keys['site:maple']['id']}/health",
                          "/api/v1/keys"],
        "operator": ["/api/v1/keys"],
    }  # fmt: skip
    for caller, paths in own_reads.items():
        for path in paths:
            body = json.dumps(tenants.ok("GET", path, tenants.keys[caller]))
            leaked = [s for s in secrets_of(tenants, "jd") if s in body]
            assert leaked == [], (caller, path, leaked)
    banks = tenants.ok("GET", "/api/v1/banks", tenants.keys["sf"])
    assert banks[0]["you_hold"] == 1  # its own hold only, not jd's


def test_unknown_and_missing_keys_are_refused(tenants: Cloud) -> None:
    assert tenants.call("GET", "/api/v1/banks", {}).status_code == 401
    assert tenants.call("GET", "/api/v1/banks", bearer("lk_not-a-key")).status_code == 401


def test_a_reservation_looks_its_key_up_in_its_own_transaction_and_writes_nothing_unless_live(
    tenants: Cloud,
) -> None:
    """The reservation route looks the key up inside the reservation's transaction (decision
    0031): an unknown key, a revoked one or another role's is refused and nothing is held."""
    body = {"bank_id": "oak", "size": "M"}
    before = tenants.ok("GET", "/api/v1/banks", tenants.keys["sf"])
    assert tenants.call("POST", "/api/v1/reservations", {}, json=body).status_code == 401
    unknown = bearer("lk_not-a-key")
    assert tenants.call("POST", "/api/v1/reservations", unknown, json=body).status_code == 401
    courier = tenants.call("POST", "/api/v1/reservations", tenants.keys["sf:courier"], json=body)
    assert courier.status_code == 403
    tenants.ok("DELETE", f"/api/v1/keys/{tenants.keys['jd:key']['id']}", tenants.keys["jd"])
    assert (
        tenants.call("POST", "/api/v1/reservations", tenants.keys["jd"], json=body).status_code
        == 401
    )
    # a present but unknown key with an invalid body: the body is checked first (422), and
    # nothing is read or written for it
    bad = tenants.call("POST", "/api/v1/reservations", unknown, json={"bank_id": "oak"})
    assert bad.status_code == 422
    assert tenants.ok("GET", "/api/v1/banks", tenants.keys["sf"]) == before
