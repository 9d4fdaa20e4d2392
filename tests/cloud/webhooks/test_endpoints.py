"""Endpoints by API: rotation with two secrets, a test ping, disabling; a carrier sees only its
own endpoints, deliveries and parcels, and never receives another carrier's events."""

from __future__ import annotations

from sqlmodel import select

from cloud.core.db import transaction
from cloud.webhooks.endpoints import ENDPOINTS_MAX
from cloud.webhooks.tables import WebhookEndpoint
from tests.cloud.webhooks.conftest import World, advance, drain
from tests.cloud.webhooks.receiver import Receiver


def test_a_rotated_secret_signs_beside_the_new_one_until_the_overlap_ends(
    world: World, receiver: Receiver
) -> None:
    endpoint = world.endpoint("sf", receiver)  # the receiver knows secret 0
    key = world.cloud.keys["sf"]
    rotated = world.cloud.ok(
        "POST", f"/api/v1/webhooks/{endpoint['id']}/rotate", key, json={"overlap_s": 30}
    )
    assert rotated["secret"] != endpoint["secret"]
    assert rotated["previous_until"] is not None
    receiver.secrets.append(rotated["secret"])  # secret 1
    worker = world.worker()
    world.deposit("SF1", "A01")
    drain(worker)
    assert [r.verified_by for r in receiver.got] == [frozenset({0, 1})]  # both signatures
    advance(worker, 31)  # the overlap is over: the old secret signs no more
    world.pick_up("SF1", "A01")
    drain(worker)
    assert [r.verified_by for r in receiver.got][1:] == [frozenset({1})]


def test_a_ping_goes_to_that_endpoint_and_shows_in_its_log(
    world: World, receiver: Receiver, other_receiver: Receiver
) -> None:
    endpoint = world.endpoint("sf", receiver)
    world.endpoint("sf", other_receiver)
    key = world.cloud.keys["sf"]
    sent = world.cloud.ok("POST", f"/api/v1/webhooks/{endpoint['id']}/ping", key)
    assert sent["type"] == "webhook.ping"
    assert sent["state"] == "pending"
    drain(world.worker())
    assert [(r.id, r.type) for r in receiver.delivered()] == [(sent["id"], "webhook.ping")]
    assert other_receiver.got == []
    log = world.cloud.ok("GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", key)
    assert [(d["id"], d["state"], d["last_status"]) for d in log] == [
        (sent["id"], "delivered", 204)
    ]


def test_a_disabled_endpoint_is_sent_nothing_until_enabled(
    world: World, receiver: Receiver
) -> None:
    endpoint = world.endpoint("sf", receiver)
    key = world.cloud.keys["sf"]
    url = f"/api/v1/webhooks/{endpoint['id']}"
    world.deposit("SF1", "A01")  # before: its delivery waits
    assert world.cloud.ok("PATCH", url, key, json={"state": "disabled"})["state"] == "disabled"
    world.pick_up("SF1", "A01")  # while disabled: no delivery for it at all
    worker = world.worker()
    assert worker.step() == 0
    world.cloud.ok("PATCH", url, key, json={"state": "active"})
    drain(worker)
    assert [r.type for r in receiver.delivered()] == ["parcel.in_locker"]


def test_unknown_event_types_and_bad_urls_are_refused(world: World) -> None:
    key = world.cloud.keys["sf"]
    for body in (
        {"url": "https://example.com/hook", "events": ["parcel.teleported"]},
        {"url": "ftp://example.com/hook"},
        {"url": "https://user:pw@example.com/hook"},
        {"url": "not a url"},
        {"url": "https://example.com:99999/hook"},
    ):
        assert world.cloud.call("POST", "/api/v1/webhooks", key, json=body).status_code == 422


def test_another_carriers_events_never_reach_a_receiver(
    world: World, receiver: Receiver, other_receiver: Receiver
) -> None:
    sf_hook = world.endpoint("sf", receiver)
    world.endpoint("jd", other_receiver)
    sf, jd = world.cloud.keys["sf"], world.cloud.keys["jd"]
    world.announce("SF1")
    world.deposit("SF1", "A01")
    world.deposit("JD1", "A02", carrier="jd")
    world.pick_up("SF1", "A01")
    drain(world.worker())
    assert {r.data["carrier_id"] for r in receiver.got} == {"sf"}
    assert {r.data["carrier_id"] for r in other_receiver.got} == {"jd"}
    assert {r.data["waybill"] for r in other_receiver.got} == {"JD1"}
    assert [e["id"] for e in world.cloud.ok("GET", "/api/v1/webhooks", jd)] != [sf_hook["id"]]
    for method, path in (
        ("GET", f"/api/v1/webhooks/{sf_hook['id']}/deliveries"),
        ("POST", f"/api/v1/webhooks/{sf_hook['id']}/ping"),
        ("PATCH", f"/api/v1/webhooks/{sf_hook['id']}"),
        ("GET", "/api/v1/tracking/SF1"),
    ):
        answer = world.cloud.call(method, path, jd, json={})
        assert answer.status_code == 404, (method, path)
    assert world.cloud.ok("GET", "/api/v1/tracking/SF1", sf)


def test_a_namesake_of_another_carrier_is_not_told_of_a_pickup(
    world: World, receiver: Receiver, other_receiver: Receiver
) -> None:
    """Found in review: jd announcing a waybill that sf's parcel in the bank also bears got
    sf's pickup (the newest parcel of that waybill at the bank was told), and sf nothing."""
    world.endpoint("sf", receiver)
    world.endpoint("jd", other_receiver)
    world.deposit("W1", "A01")
    world.announce("W1", carrier="jd")
    world.pick_up("W1", "A01")
    drain(world.worker())
    assert receiver.types() == {"parcel.in_locker", "parcel.picked_up"}
    assert other_receiver.types() == {"parcel.announced"}


def test_a_carriers_endpoints_are_bounded(world: World) -> None:
    """Found in review: endpoints without number, each event of the carrier writing one
    delivery per endpoint inside the ingest's transaction, let one carrier slow every batch."""
    key = world.cloud.keys["sf"]
    body = {"url": "https://hooks.example.com/sf", "events": []}
    for _ in range(ENDPOINTS_MAX):
        world.cloud.ok("POST", "/api/v1/webhooks", key, json=body)
    assert world.cloud.call("POST", "/api/v1/webhooks", key, json=body).status_code == 409
    assert world.cloud.ok("POST", "/api/v1/webhooks", world.cloud.keys["jd"], json=body)


def test_secrets_are_sealed_at_rest(world: World, receiver: Receiver) -> None:
    made = world.endpoint("sf", receiver)
    with transaction(world.engine) as s:
        row = s.exec(select(WebhookEndpoint)).one()
    assert str(made["secret"]) not in row.secret_sealed
    listed = world.cloud.ok("GET", "/api/v1/webhooks", world.cloud.keys["sf"])
    assert "secret" not in listed[0]


def test_tracking_history_and_returns_in_both_vocabularies(world: World) -> None:
    key = world.cloud.keys["sf"]
    world.announce("SF1")
    world.deposit("SF1", "A02")
    world.refuse("SF1", "recipient refused it")
    history = world.cloud.ok("GET", "/api/v1/tracking/SF1", key)
    assert [(e["type"], e["status"], e["kuaidi100"]["state"]) for e in history] == [
        ("parcel.announced", "announced", 5),
        ("parcel.in_locker", "in_locker", 5),
        ("parcel.refused", "return_pending", 14),
    ]
    assert history[2]["reason"] == "recipient refused it"
    assert history[1]["compartment"] == "A02"
    returns = world.cloud.ok("GET", "/api/v1/returns", key)
    assert [(r["waybill"], r["bank_id"], r["compartment"]) for r in returns] == [
        ("SF1", "maple", "A02")
    ]
    assert world.cloud.ok("GET", "/api/v1/returns", world.cloud.keys["jd"]) == []
    assert world.cloud.call("GET", "/api/v1/tracking/NOPE", key).status_code == 404


def test_reservations_and_parcels_answer_with_their_compartment_label(world: World) -> None:
    sf = world.cloud.keys["sf"]
    hold = {"bank_id": "maple", "size": "M", "kind": "hard"}
    made = world.cloud.ok("POST", "/api/v1/reservations", sf, json=hold)
    assert made["compartment"] == "A03"  # the smallest free M: labels A01-A02 are S
    listed = world.cloud.ok("GET", "/api/v1/reservations", sf)
    assert [r["compartment"] for r in listed] == ["A03"]
    world.announce("SF1")
    assert world.cloud.ok("GET", "/api/v1/parcels", sf)[0]["compartment"] is None
    world.deposit("SF1", "A01")
    assert world.cloud.ok("GET", "/api/v1/parcels", sf)[0]["compartment"] == "A01"
    assert world.cloud.ok("GET", "/api/v1/parcels/SF1", sf)["compartment"] == "A01"
