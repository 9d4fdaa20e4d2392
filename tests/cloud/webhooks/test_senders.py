"""Senders side by side claim different deliveries; an attempt goes to the address checked with
the URL's name in Host, follows no redirect, and a failing endpoint's circuit opens."""

from __future__ import annotations

import socket
import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from cloud.core.db import transaction
from cloud.webhooks.keys import new_secret, seal
from cloud.webhooks.sender import Message, new_client, send
from cloud.webhooks.tables import WebhookEndpoint
from cloud.webhooks.targets import networks
from cloud.webhooks.worker import Worker
from tests.cloud.webhooks.conftest import QUICK, World, advance, drain
from tests.cloud.webhooks.receiver import Receiver


def test_two_senders_at_once_deliver_each_event_once(world: World, receiver: Receiver) -> None:
    world.endpoint("sf", receiver)
    for n in range(1, 5):
        world.deposit(f"SF{n}", f"A0{n}")
        world.pick_up(f"SF{n}", f"A0{n}")
    senders = [world.worker(), world.worker()]
    together = threading.Barrier(len(senders))

    def step(worker: Worker) -> None:
        together.wait()
        worker.step()

    threads = [threading.Thread(target=step, args=(w,)) for w in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker in senders:
        drain(worker)
    ids = [r.id for r in receiver.delivered()]
    assert len(ids) == 8
    assert len(set(ids)) == 8  # none twice, though both claimed at the same moment
    order: dict[str, list[str]] = {}
    for r in receiver.delivered():
        order.setdefault(str(r.data["waybill"]), []).append(r.type)
    assert all(types == ["parcel.in_locker", "parcel.picked_up"] for types in order.values())


def test_the_name_travels_in_host_and_the_checked_address_is_reached(receiver: Receiver) -> None:
    receiver.secrets.append(new_secret())
    url = receiver.url().replace("127.0.0.1", "localhost")
    body = '{"type":"webhook.ping","timestamp":"2026-12-01T00:00:00+00:00","data":{}}'
    message = Message("msg_1", body, url, (receiver.secrets[0],))
    with new_client() as client:
        outcome = send(client, message, datetime.now(UTC), networks(["127.0.0.0/8", "::1/128"]))
    assert outcome.ok
    assert receiver.got[0].host == f"localhost:{receiver.port}"
    assert receiver.got[0].verified_by == frozenset({0})


def test_an_internationalised_name_is_sent_in_its_ascii_form(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found in review: Host 'bücher.example' made httpx raise UnicodeEncodeError out of
    ``send``, so the sender's whole batch (other carriers' deliveries too) was never settled
    and went again at every lease."""
    resolve = socket.getaddrinfo

    def local(host: str, *args: Any, **kwargs: Any) -> Any:  # this name, for this test only
        named = host in ("bücher.example", "xn--bcher-kva.example")
        return resolve("127.0.0.1" if named else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", local)
    receiver.secrets.append(new_secret())
    url = receiver.url().replace("127.0.0.1", "bücher.example")
    body = '{"type":"webhook.ping","timestamp":"2026-12-01T00:00:00+00:00","data":{}}'
    message = Message("msg_1", body, url, (receiver.secrets[0],))
    with new_client() as client:
        outcome = send(client, message, datetime.now(UTC), networks(["127.0.0.0/8"]))
    assert outcome.ok
    assert receiver.got[0].host == f"xn--bcher-kva.example:{receiver.port}"


def test_a_redirect_is_not_followed(world: World, receiver: Receiver) -> None:
    endpoint = world.endpoint("sf", receiver)
    receiver.status = 302
    world.deposit("SF1", "A01")
    world.worker().step()
    assert len(receiver.got) == 1
    log = world.cloud.ok(
        "GET", f"/api/v1/webhooks/{endpoint['id']}/deliveries", world.cloud.keys["sf"]
    )
    assert (log[0]["state"], log[0]["last_status"]) == ("pending", 302)


def test_an_endpoint_that_keeps_failing_has_its_circuit_opened(
    world: World, receiver: Receiver
) -> None:
    world.endpoint("sf", receiver)
    key = world.cloud.keys["sf"]
    receiver.status = 500
    for n in range(1, 5):
        world.deposit(f"SF{n}", f"A0{n}")
    worker = world.worker()  # its clock starts now: the deliveries are due
    assert worker.step() == 4  # four parcels, four failures: more than QUICK.breaker_after
    (listed,) = world.cloud.ok("GET", "/api/v1/webhooks", key)
    assert listed["failures"] >= QUICK.breaker_after
    assert listed["open_until"] is not None
    advance(worker, QUICK.cap_s)  # every retry is due, but the circuit is open
    assert worker.step() == 0
    assert len(receiver.got) == 4
    receiver.status = 204
    drain(worker, advance_s=QUICK.breaker_open_s)  # half open, then closed by a success
    (listed,) = world.cloud.ok("GET", "/api/v1/webhooks", key)
    assert (listed["failures"], listed["open_until"]) == (0, None)
    assert {r.data["waybill"] for r in receiver.delivered()} == {"SF1", "SF2", "SF3", "SF4"}


def test_an_endpoint_whose_secret_cannot_be_opened_holds_up_no_other(
    world: World, receiver: Receiver
) -> None:
    """Found in review: one endpoint sealed under another server key (the key changed, that
    carrier did not rotate) made every claim raise SealError: no carrier got anything."""
    stale = world.endpoint("sf", receiver)
    world.endpoint("jd", receiver)
    with transaction(world.engine) as s:
        row = s.get(WebhookEndpoint, str(stale["id"]))
        assert row is not None
        row.secret_sealed = seal("another server key", new_secret())
        s.add(row)
    world.deposit("SF1", "A01")
    world.deposit("JD1", "A02", carrier="jd")
    worker = world.worker()
    assert worker.step() == 1
    assert [str(r.data["waybill"]) for r in receiver.delivered()] == ["JD1"]
