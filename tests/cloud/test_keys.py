"""API keys of every role: listed, revoked and rotated by whoever manages them, and by nobody
else; a revoked key is refused at once; every change is audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from cloud.models import AuditEntry, KeyState, utcnow
from cloud.services import keys
from cloud.services.auth import authenticate
from cloud.services.errors import Unauthorized
from tests.cloud.conftest import Cloud, bearer, fleet

KEYS = "/api/v1/keys"


@pytest.fixture
def tenants(cloud: Cloud) -> Cloud:
    """Operator 1 with sites maple and oak (a manager each), a second operator with site elm,
    carriers sf and jd, each with a courier."""
    fleet(cloud, {"maple": {"M": 2}, "oak": {"M": 2}})
    cloud.keys["admin"] = cloud.admin
    other = cloud.ok("POST", "/api/v1/operators", cloud.admin, json={"name": "Other Ltd"})
    cloud.keys["operator2"] = bearer(other["api_key"])
    where = {"name": "Elm", "lat": 31.3, "lon": 121.5}
    elm = cloud.ok("POST", "/api/v1/sites", cloud.keys["operator2"], json=where)
    made = cloud.ok(
        "POST", f"/api/v1/sites/{elm['id']}/manager-keys", cloud.keys["operator2"], json={}
    )
    cloud.keys["manager:elm"] = bearer(made["api_key"])
    for carrier in ("sf", "jd"):
        courier = cloud.ok(
            "POST",
            "/api/v1/couriers",
            cloud.keys[carrier],
            json={"id": f"{carrier}-c1", "pin": "2468"},
        )
        cloud.keys[f"{carrier}:courier"] = bearer(courier["api_key"])
    return cloud


ROLES = {"admin": "admin", "operator": "operator", "operator2": "operator"}
ROLES |= {"sf": "carrier", "jd": "carrier", "yt": "carrier"}


def role_of(who: str) -> str:
    if who.startswith("manager:"):
        return "manager"
    return "courier" if who.endswith(":courier") else ROLES[who]


def key_id(cloud: Cloud, who: str) -> str:
    """The id of ``who``'s own key: the one key of its own role it sees."""
    listed = cloud.ok("GET", KEYS, cloud.keys[who], params={"role": role_of(who)})
    (mine,) = [k for k in listed if k["state"] == "active"]
    return str(mine["id"])


def ids(listed: list[dict[str, Any]]) -> set[str]:
    return {k["id"] for k in listed}


def test_creating_a_key_answers_with_the_keys_id(tenants: Cloud) -> None:
    site = tenants.keys["site:maple"]["id"]
    made = tenants.ok(
        "POST", f"/api/v1/sites/{site}/manager-keys", tenants.keys["operator"], json={"label": "b"}
    )
    assert made["id"] == made["key_id"] != site
    listed = tenants.ok("GET", KEYS, tenants.keys["operator"], params={"role": "manager"})
    (key,) = [k for k in listed if k["id"] == made["id"]]
    assert (key["role"], key["site_id"], key["label"], key["state"]) == (
        "manager",
        site,
        "b",
        "active",
    )
    assert "api_key" not in key
    assert "key_hash" not in key
    carrier = tenants.ok("POST", "/api/v1/carriers", tenants.admin, json={"id": "yt", "name": "YT"})
    tenants.keys["yt"] = bearer(carrier["api_key"])
    assert carrier["id"] == "yt"
    assert carrier["key_id"] == key_id(tenants, "yt")
    operator = tenants.ok("POST", "/api/v1/operators", tenants.admin, json={"name": "Third"})
    listed = tenants.ok("GET", KEYS, bearer(operator["api_key"]))
    assert [(k["id"], k["operator_id"]) for k in listed] == [(operator["key_id"], operator["id"])]


def test_each_caller_lists_the_keys_it_manages_and_no_others(tenants: Cloud) -> None:
    everything = tenants.ok("GET", KEYS, tenants.admin)
    by_role: dict[str, set[str]] = {}
    for k in everything:
        by_role.setdefault(k["role"], set()).add(k["id"])
    assert {r: len(v) for r, v in by_role.items()} == {
        "admin": 1, "operator": 2, "manager": 3, "carrier": 2, "courier": 2,
    }  # fmt: skip
    operator = ids(tenants.ok("GET", KEYS, tenants.keys["operator"]))
    assert operator == {key_id(tenants, "operator")} | {
        key_id(tenants, "manager:maple"), key_id(tenants, "manager:oak")
    }  # fmt: skip
    sf = tenants.ok("GET", KEYS, tenants.keys["sf"])
    assert {(k["role"], k["carrier_id"]) for k in sf} == {("carrier", "sf"), ("courier", "sf")}
    for own in ("manager:maple", "sf:courier", "jd"):
        listed = tenants.ok("GET", KEYS, tenants.keys[own])
        assert ids(listed) <= ids(everything)
        if own != "jd":
            assert len(listed) == 1  # itself only


def test_a_leaked_manager_key_is_revoked_by_its_operator_and_refused_at_once(
    tenants: Cloud,
) -> None:
    leaked = tenants.keys["manager:maple"]
    site = tenants.keys["site:maple"]["id"]
    tenants.ok("GET", f"/api/v1/sites/{site}/health", leaked)
    revoked = tenants.ok(
        "DELETE", f"{KEYS}/{key_id(tenants, 'manager:maple')}", tenants.keys["operator"]
    )
    assert revoked["state"] == "revoked"
    assert revoked["revoked_at"] is not None
    assert tenants.call("GET", f"/api/v1/sites/{site}/health", leaked).status_code == 401
    assert tenants.call("POST", "/api/v1/banks/maple/compartments/A01/open", leaked,
                        json={"reason": "let me in"}).status_code == 401  # fmt: skip
    tenants.ok(
        "GET", f"/api/v1/sites/{tenants.keys['site:oak']['id']}/health", tenants.keys["manager:oak"]
    )


@pytest.mark.parametrize(
    ("manager", "managed"),
    [
        ("admin", "operator"),
        ("admin", "sf"),
        ("operator", "manager:oak"),
        ("operator", "operator"),
        ("sf", "sf:courier"),
        ("sf", "sf"),
        ("manager:maple", "manager:maple"),
        ("jd:courier", "jd:courier"),
    ],
)
def test_revoked_keys_of_every_role_answer_401(tenants: Cloud, manager: str, managed: str) -> None:
    target = key_id(tenants, managed)
    answer = tenants.ok("DELETE", f"{KEYS}/{target}", tenants.keys[manager])
    assert (answer["id"], answer["state"]) == (target, "revoked")
    assert tenants.call("GET", KEYS, tenants.keys[managed]).status_code == 401
    again = tenants.call("DELETE", f"{KEYS}/{target}", tenants.admin)  # idempotent
    assert again.status_code == 200
    assert again.json()["state"] == "revoked"


@pytest.mark.parametrize("who", ["admin", "operator", "manager:maple", "sf", "sf:courier"])
def test_every_role_rotates_its_own_key(tenants: Cloud, who: str) -> None:
    old_id = key_id(tenants, who)
    before = next(k for k in tenants.ok("GET", KEYS, tenants.admin) if k["id"] == old_id)
    rotated = tenants.ok("POST", f"{KEYS}/{old_id}/rotate", tenants.keys[who], json={})
    assert rotated["api_key"].startswith("lk_")
    assert rotated["replaces"] == old_id
    scope = ("role", "label", "carrier_id", "operator_id", "site_id", "courier_id")
    assert {f: rotated[f] for f in scope} == {f: before[f] for f in scope}
    assert tenants.call("GET", KEYS, tenants.keys[who]).status_code == 401
    new = bearer(rotated["api_key"])
    listed = tenants.ok("GET", KEYS, new, params={"role": before["role"]})
    assert rotated["id"] in ids(listed)
    assert rotated["state"] == "active"
    admin = new if who == "admin" else tenants.admin
    refused = tenants.call("POST", f"{KEYS}/{old_id}/rotate", admin, json={})
    assert refused.status_code == 409  # a revoked key does not rotate again


def test_a_rotation_with_overlap_keeps_the_old_key_until_it_expires(tenants: Cloud) -> None:
    old_id = key_id(tenants, "sf")
    rotated = tenants.ok(
        "POST", f"{KEYS}/{old_id}/rotate", tenants.keys["sf"], json={"overlap_s": 600}
    )
    tenants.ok("GET", "/api/v1/banks", tenants.keys["sf"])  # still accepted, for now
    tenants.ok("GET", "/api/v1/banks", bearer(rotated["api_key"]))
    old = next(k for k in tenants.ok("GET", KEYS, tenants.admin) if k["id"] == old_id)
    assert old["state"] == "expiring"
    assert old["expires_at"] is not None
    engine, secret = tenants.engine, tenants.settings.secret_key
    sf_key = tenants.keys["sf"]["Authorization"].removeprefix("Bearer ")
    later = utcnow() + timedelta(seconds=601)
    with pytest.raises(Unauthorized):
        authenticate(engine, secret, sf_key, now=later)
    assert authenticate(engine, secret, rotated["api_key"], now=later).key_id == rotated["id"]
    assert [k.state for k in keys.list_keys(engine, keys.CONSOLE, now=later) if k.id == old_id] == [
        KeyState.REVOKED
    ]
    too_long = tenants.call("POST", f"{KEYS}/{rotated['id']}/rotate", tenants.keys["sf"],
                            json={"overlap_s": 3601})  # fmt: skip
    assert too_long.status_code == 422


def other_tenants_key_calls(cloud: Cloud) -> list[tuple[str, str]]:
    """(caller, whose key) pairs: the caller manages nothing of the other's."""
    return [
        ("sf", "jd"),
        ("sf", "jd:courier"),
        ("sf:courier", "sf"),
        ("sf:courier", "sf"),
        ("jd", "sf:courier"),
        ("operator", "manager:elm"),
        ("operator", "operator2"),
        ("operator", "sf"),
        ("operator2", "manager:maple"),
        ("manager:maple", "manager:oak"),
        ("manager:maple", "operator"),
        ("sf", "manager:maple"),
        ("operator", "admin"),
    ]


def test_no_one_sees_revokes_or_rotates_another_tenants_keys(tenants: Cloud) -> None:
    targets = {who: key_id(tenants, who) for _, who in other_tenants_key_calls(tenants)}
    for caller, whose in other_tenants_key_calls(tenants):
        target = targets[whose]
        assert target not in ids(tenants.ok("GET", KEYS, tenants.keys[caller])), (caller, whose)
        for method, path in (("DELETE", f"{KEYS}/{target}"), ("POST", f"{KEYS}/{target}/rotate")):
            answer = tenants.call(method, path, tenants.keys[caller], json={})
            assert answer.status_code == 404, (caller, whose, method, answer.text)
    for whose in targets:
        tenants.ok("GET", KEYS, tenants.keys[whose])  # every one still works


def test_every_key_change_is_audited(tenants: Cloud) -> None:
    manager = key_id(tenants, "manager:maple")
    operator = key_id(tenants, "operator")
    tenants.ok("DELETE", f"{KEYS}/{manager}", tenants.keys["operator"])
    rotated = tenants.ok(
        "POST", f"{KEYS}/{key_id(tenants, 'sf')}/rotate", tenants.keys["sf"], json={}
    )
    engine = tenants.engine
    with Session(engine) as s:
        entries = s.exec(select(AuditEntry).where(col(AuditEntry.action).like("%_key")))
        seen = [(e.action, e.target, e.actor, e.detail.get("new_key")) for e in entries]
    assert ("revoke_key", manager, operator, None) in seen
    assert ("rotate_key", rotated["replaces"], rotated["replaces"], rotated["id"]) in seen


def test_revoking_a_courier_revokes_its_key_as_the_keys_route_would(tenants: Cloud) -> None:
    """The same revocation either way: a time on the key, and an audit entry for it."""
    courier_key = key_id(tenants, "sf:courier")
    tenants.ok("DELETE", "/api/v1/couriers/sf-c1", tenants.keys["sf"])
    listed = tenants.ok("GET", KEYS, tenants.keys["sf"], params={"role": "courier"})
    (key,) = [k for k in listed if k["id"] == courier_key]
    assert key["state"] == "revoked"
    assert key["revoked_at"] is not None
    with Session(tenants.engine) as s:
        actions = s.exec(select(AuditEntry).where(AuditEntry.target == courier_key)).all()
    assert [a.action for a in actions] == ["revoke_key"]
    answer = tenants.call("GET", "/api/v1/parcels", tenants.keys["sf:courier"])
    assert answer.status_code == 401
