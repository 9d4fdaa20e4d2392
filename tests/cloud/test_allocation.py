"""Allocation through the carriers' API, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.cloud.conftest import Cloud, fleet

RESERVE = "/api/v1/reservations"


def reserve(
    cloud: Cloud, carrier: str, size: str = "M", bank: str = "maple", **extra: object
) -> object:
    return cloud.call(
        "POST", RESERVE, cloud.keys[carrier], json={"bank_id": bank, "size": size, **extra}
    )


def label_of(cloud: Cloud, reservation: dict[str, object]) -> str:
    engine = cloud.engine
    with engine.connect() as db:
        row = db.execute(
            text("SELECT label FROM compartment WHERE id = :i"),
            {"i": reservation["compartment_id"]},
        )
        return str(row.scalar_one())


def test_smallest_fitting_then_upsizing(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"S": 1, "M": 1, "L": 1}})
    first = reserve(cloud, "sf", "M").json()  # type: ignore[attr-defined]
    assert (label_of(cloud, first), first["size"], first["kind"]) == ("A02", "M", "soft")
    assert first["compartment"] == "A02"  # named in the answer, as in a later listing
    second = reserve(cloud, "sf", "M").json()  # type: ignore[attr-defined]
    assert (label_of(cloud, second), second["size"]) == ("A03", "L")  # no M left: upsized
    banks = cloud.ok("GET", "/api/v1/banks", cloud.keys["sf"])
    assert banks[0]["free"] == {"S": 1, "M": 0, "L": 0, "XL": 0}
    assert banks[0]["you_hold"] == 2
    listed = cloud.ok("GET", RESERVE, cloud.keys["sf"])
    assert sorted(r["compartment"] for r in listed) == ["A02", "A03"]


def test_idempotency_key_replays_and_refuses_a_different_body(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 3}})
    headers = {"Idempotency-Key": "order-42"}
    first = cloud.call(
        "POST", RESERVE, cloud.keys["sf"], json={"bank_id": "maple", "size": "M"}, headers=headers
    )
    again = cloud.call(
        "POST", RESERVE, cloud.keys["sf"], json={"bank_id": "maple", "size": "M"}, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    other = cloud.call(
        "POST", RESERVE, cloud.keys["sf"], json={"bank_id": "maple", "size": "S"}, headers=headers
    )
    assert other.status_code == 409
    # Another carrier may use the same key string: keys are per carrier.
    theirs = cloud.call(
        "POST", RESERVE, cloud.keys["jd"], json={"bank_id": "maple", "size": "M"}, headers=headers
    )
    assert theirs.status_code == 201
    assert len(cloud.ok("GET", RESERVE, cloud.keys["sf"])) == 1


def test_cancel_frees_the_compartment(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}})
    made = reserve(cloud, "sf").json()  # type: ignore[attr-defined]
    assert reserve(cloud, "jd").status_code == 409  # type: ignore[attr-defined]
    cancelled = cloud.ok("DELETE", f"{RESERVE}/{made['id']}", cloud.keys["sf"])
    assert cancelled["state"] == "cancelled"
    assert cloud.call("DELETE", f"{RESERVE}/{made['id']}", cloud.keys["sf"]).status_code == 409
    assert reserve(cloud, "jd").status_code == 201  # type: ignore[attr-defined]


def test_soft_reservations_expire_hard_ones_do_not(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 2}})
    soft = reserve(cloud, "sf", ttl_s=60).json()  # type: ignore[attr-defined]
    hard = reserve(cloud, "sf", kind="hard").json()  # type: ignore[attr-defined]
    assert hard["expires_at"] is None
    engine = cloud.engine
    past = datetime.now(UTC) - timedelta(seconds=1)
    with engine.begin() as db:
        db.execute(
            text("UPDATE reservation SET expires_at = :t WHERE id = :i"),
            {"t": past, "i": soft["id"]},
        )
    assert reserve(cloud, "jd").status_code == 201  # type: ignore[attr-defined]
    states = {r["id"]: r["state"] for r in cloud.ok("GET", RESERVE, cloud.keys["sf"])}
    assert states == {soft["id"]: "expired", hard["id"]: "active"}


def test_a_full_bank_names_the_nearest_banks_with_room(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}, "oak": {"M": 2}, "pine": {"S": 3}, "elm": {"L": 1}})
    assert reserve(cloud, "sf").status_code == 201  # type: ignore[attr-defined]
    full = reserve(cloud, "sf")
    assert full.status_code == 409  # type: ignore[attr-defined]
    nearest = full.json()["nearest"]  # type: ignore[attr-defined]
    assert [b["bank_id"] for b in nearest] == ["oak", "elm"]  # pine has only S
    assert nearest[0]["distance_km"] == pytest.approx(1.0, abs=0.05)


def test_ceiling_and_guarantees(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 4}}, carriers=("sf", "jd", "yt"))
    op = cloud.keys["operator"]
    cloud.ok("PUT", "/api/v1/banks/maple/policies/sf", op, json={"guaranteed": 1, "ceiling": 2})
    cloud.ok("PUT", "/api/v1/banks/maple/policies/jd", op, json={"guaranteed": 2, "ceiling": 4})
    offered = reserve(cloud, "sf")  # an offer binds nobody, and sends nothing of sf: refused
    assert offered.status_code == 409  # type: ignore[attr-defined]
    assert offered.json()["detail"] == "your share of maple is offered; accept it first"  # type: ignore[attr-defined]
    for carrier in ("sf", "jd"):  # the rule the bank enforces is the accepted one
        cloud.ok("POST", "/api/v1/shares/maple/accept", cloud.keys[carrier])
    assert reserve(cloud, "sf").status_code == 201  # type: ignore[attr-defined]
    assert reserve(cloud, "sf").status_code == 201  # type: ignore[attr-defined]  # shared pool
    capped = reserve(cloud, "sf")
    assert capped.status_code == 409  # type: ignore[attr-defined]
    assert capped.json()["ceiling"] == 2  # type: ignore[attr-defined]
    # yt has no policy: the 2 free compartments are owed to jd's guarantee.
    refused = reserve(cloud, "yt")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "guaranteed to other carriers" in refused.json()["detail"]  # type: ignore[attr-defined]
    assert reserve(cloud, "jd").status_code == 201  # type: ignore[attr-defined]
    assert reserve(cloud, "jd").status_code == 201  # type: ignore[attr-defined]
    bad = cloud.call(
        "PUT", "/api/v1/banks/maple/policies/yt", op, json={"guaranteed": 3, "ceiling": 3}
    )
    assert bad.status_code == 409  # guarantees would exceed the bank


def test_parcels_announced_with_history_and_couriers(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}})
    body = {
        "waybill": "SF1",
        "bank_id": "maple",
        "recipient_phone": "13800138000",
        "consent": "recipient_app",
    }
    assert cloud.call("POST", "/api/v1/parcels", cloud.keys["sf"], json=body).status_code == 201
    assert cloud.call("POST", "/api/v1/parcels", cloud.keys["sf"], json=body).status_code == 409
    history = cloud.ok("GET", "/api/v1/parcels/SF1", cloud.keys["sf"])
    assert [h["status"] for h in history["history"]] == ["announced"]
    bad = body | {"waybill": "SF2", "consent": "nodded"}
    assert cloud.call("POST", "/api/v1/parcels", cloud.keys["sf"], json=bad).status_code == 422
    made = cloud.ok(
        "POST", "/api/v1/couriers", cloud.keys["sf"], json={"id": "sf-0042", "pin": "2468"}
    )
    me = cloud.ok("GET", "/api/v1/courier/me", {"Authorization": f"Bearer {made['api_key']}"})
    assert (me["id"], me["carrier_id"]) == ("sf-0042", "sf")
    assert [c["id"] for c in cloud.ok("GET", "/api/v1/couriers", cloud.keys["sf"])] == ["sf-0042"]


def test_the_audit_log_is_append_only(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}})
    engine = cloud.engine
    with engine.connect() as db:
        assert db.execute(text("SELECT count(*) FROM auditentry")).scalar_one() > 3
    for statement in ("UPDATE auditentry SET action = 'x'", "DELETE FROM auditentry"):
        with pytest.raises(Exception, match="append-only"), engine.begin() as db:
            db.execute(text(statement))


def test_a_bank_with_a_label_twice_is_refused_clearly(cloud: Cloud) -> None:
    fleet(cloud, {"maple": {"M": 1}})
    site = cloud.keys["site:maple"]["id"]
    twice = [{"label": "B01", "size": "M"}, {"label": "B01", "size": "L"}]
    body = {"id": "birch", "site_id": site, "compartments": twice}
    answer = cloud.call("POST", "/api/v1/banks", cloud.keys["operator"], json=body)
    assert answer.status_code == 422
    assert answer.json()["detail"] == "compartments listed more than once: B01"


def test_a_declined_share_is_no_way_past_its_ceiling(cloud: Cloud) -> None:
    """A carrier that declined its share counted as one without a share drew on the pool with
    no ceiling; the bank knows nothing of it, so nothing of it may go there."""
    fleet(cloud, {"maple": {"M": 4}})
    op = cloud.keys["operator"]
    cloud.ok("PUT", "/api/v1/banks/maple/policies/sf", op, json={"guaranteed": 0, "ceiling": 1})
    cloud.ok("POST", "/api/v1/shares/maple/withdraw", cloud.keys["sf"])  # declined
    refused = reserve(cloud, "sf")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    body = refused.json()  # type: ignore[attr-defined]
    assert body["detail"] == "your share of maple is declined; accept it first"
    assert "nearest" not in body  # another bank would not change the answer
    assert cloud.ok("GET", RESERVE, cloud.keys["sf"]) == []
    assert reserve(cloud, "jd").status_code == 201  # type: ignore[attr-defined]  # no share


def site_at(cloud: Cloud, bank_id: str, lat: float, lon: float) -> None:
    """One more bank of one M compartment, on a site of its own at ``lat``, ``lon``."""
    made = cloud.ok("POST", "/api/v1/sites", cloud.keys["operator"],
                    json={"name": f"Site {bank_id}", "lat": lat, "lon": lon})  # fmt: skip
    body = {"id": bank_id, "site_id": made["id"], "compartments": [{"label": "A01", "size": "M"}]}
    cloud.ok("POST", "/api/v1/banks", cloud.keys["operator"], json=body)


def test_the_nearest_banks_are_found_however_far_in_true_distance_order(cloud: Cloud) -> None:
    """The search widens from a box of a few km: banks 100 to 900 km away are found, nearest
    first, and one just outside a box's radius but inside its corner does not jump the queue."""
    fleet(cloud, {"maple": {"M": 1}})  # at 31.2, 121.4
    site_at(cloud, "north-900", 31.2 + 900 / 111.2, 121.4)
    site_at(cloud, "east-120", 31.2, 121.4 + 120 / (111.2 * 0.8554))
    site_at(cloud, "corner-60", 31.2 + 44 / 111.2, 121.4 + 44 / (111.2 * 0.8554))  # 62 km
    site_at(cloud, "south-55", 31.2 - 55 / 111.2, 121.4)
    assert reserve(cloud, "sf").status_code == 201  # type: ignore[attr-defined]
    full = reserve(cloud, "sf").json()  # type: ignore[attr-defined]
    found = [(b["bank_id"], round(b["distance_km"])) for b in full["nearest"]]
    assert found == [("south-55", 55), ("corner-60", 62), ("east-120", 120)]


def test_listing_the_banks_costs_the_same_statements_however_many_banks(cloud: Cloud) -> None:
    """GET /api/v1/banks counts rooms and holdings for the fleet in grouped queries: it ran
    three queries per bank, three thousand for a fleet of a thousand."""
    fleet(cloud, {"maple": {"M": 2}, "oak": {"S": 1}})
    engine = cloud.engine
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    def listed() -> tuple[int, list[dict[str, Any]]]:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            found = cloud.ok("GET", "/api/v1/banks", cloud.keys["sf"])
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements), found

    assert reserve(cloud, "sf").status_code == 201  # type: ignore[attr-defined]
    few, found = listed()
    assert [(b["bank_id"], b["free"]["M"], b["you_hold"]) for b in found] == [
        ("maple", 1, 1), ("oak", 0, 0)
    ]  # fmt: skip
    for n in range(6):
        site_at(cloud, f"birch-{n}", 31.0, 121.0 + n / 100)
    many, found = listed()
    assert many == few
    assert len(found) == 8
    assert found[0]["free"] == {"S": 0, "M": 1, "L": 0, "XL": 0}
