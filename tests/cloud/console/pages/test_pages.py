"""Every console page for a signed-in person: what it shows, what it hides, what it does."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from sqlmodel import Session, select

from cloud.console.accounts.tables import PersonRole
from cloud.models import Alarm, AuditEntry, Command
from cloud.services.commands import record_ack
from locker_contract.events import DoorClosed, DoorForcedOpen, DoorJammed
from locker_contract.messages import CommandAck
from tests.cloud.console.pages.conftest import Pages, csrf

PAGES = (
    "/console/",
    "/console/alarms",
    "/console/parcels",
    "/console/records",
    "/console/reports",
    "/console/health",
    "/console/banks/maple-1",
    "/console/banks/maple-1/doors/A01",
)


def test_without_a_session_pages_go_to_sign_in_and_the_stream_is_refused(pages: Pages) -> None:
    client = pages.console.client
    for path in PAGES:
        answer = client.get(path)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/console/sign-in?next=")
    assert client.get("/console/live", headers={"Accept": "text/event-stream"}).status_code == 401


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_answers_in_both_languages(pages: Pages, lang: str) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.deposit("maple-1", "SF1001", "A01", "13800138000")
    for path in PAGES:
        answer = ann.get(f"{path}?lang={lang}")
        assert answer.status_code == 200, (path, answer.text)
        assert f'<html lang="{"zh-CN" if lang == "zh" else "en"}">' in answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert "pages." not in answer.text.replace("/console/", ""), path  # no key left untold


def test_the_language_is_the_browsers_until_one_is_chosen_and_remembered(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    english = {"Accept-Language": "en-GB,en;q=0.9"}
    assert "<h1>Fleet</h1>" in ann.get("/console/", headers=english).text
    assert "<h1>柜机总览</h1>" in ann.get("/console/").text  # Chinese by default
    assert "<h1>柜机总览</h1>" in ann.get("/console/?lang=zh", headers=english).text
    assert "<h1>柜机总览</h1>" in ann.get("/console/", headers=english).text  # remembered
    assert "<h1>Fleet</h1>" in ann.get("/console/?lang=en").text
    assert "<h1>Fleet</h1>" in ann.get("/console/?lang=xx").text  # not ours: the cookie's


def test_a_site_manager_sees_only_its_sites(pages: Pages) -> None:
    pages.person("ann@example.org")  # maple only
    pages.person("rita@example.org", PersonRole.OPERATOR_ADMIN, operator="rival")
    ann = pages.browser("ann@example.org")
    fleet = ann.get("/console/?lang=en").text
    assert "Maple-1" in fleet
    assert "Birch-1" not in fleet
    assert "Elm-1" not in fleet
    for bank in ("birch-1", "elm-1"):
        assert ann.get(f"/console/banks/{bank}").status_code == 404
        assert ann.get(f"/console/banks/{bank}/doors/A01").status_code == 404
    rita = pages.browser("rita@example.org")
    fleet = rita.get("/console/?lang=en").text
    assert "Elm-1" in fleet
    assert "Maple-1" not in fleet
    assert rita.get("/console/banks/maple-1").status_code == 404


def test_a_forced_door_is_acknowledged_then_cleared_when_shut(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.send("maple-1", DoorForcedOpen(compartment="A02"))
    pages.send("birch-1", DoorForcedOpen(compartment="A03"))  # not ann's
    listing = ann.get("/console/alarms?lang=en").text
    assert "Door forced open" in listing
    assert "A02" in listing
    assert "A03" not in listing
    with Session(pages.console.engine) as s:
        alarm = s.exec(select(Alarm).where(Alarm.bank_id == "maple-1")).one()
        other = s.exec(select(Alarm).where(Alarm.bank_id == "birch-1")).one()
    token = csrf(listing)
    refused = ann.post(f"/console/alarms/{alarm.id}/acknowledge", data={"note": "on my way"})
    assert refused.status_code == 403
    assert (
        ann.post(
            f"/console/alarms/{other.id}/acknowledge", data={"note": "x", "csrf_token": token}
        ).status_code
        == 404
    )
    done = ann.post(
        f"/console/alarms/{alarm.id}/acknowledge", data={"note": "on my way", "csrf_token": token}
    )
    assert done.status_code == 303
    listing = ann.get("/console/alarms?lang=en").text
    assert "on my way" in listing
    assert "Acknowledged" in listing
    pages.send("maple-1", DoorClosed(compartment="A02"))
    assert "A02" not in ann.get("/console/alarms?lang=en&part=list").text
    assert "Cleared" in ann.get("/console/alarms?lang=en&state=cleared").text
    with Session(pages.console.engine) as s:
        entry = s.exec(select(AuditEntry).where(AuditEntry.action == "alarm.acknowledge")).one()
    assert entry.actor.startswith("person:")


def test_a_technical_alarm_is_not_closed_while_its_cause_persists(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.send("maple-1", DoorJammed(compartment="A01", intent_id=uuid.uuid4(), jam_count=1))
    listing = ann.get("/console/alarms?lang=en").text
    assert "Cannot be closed yet" in listing
    with Session(pages.console.engine) as s:
        alarm = s.exec(select(Alarm)).one()
    answer = ann.post(
        f"/console/alarms/{alarm.id}/close", data={"note": "fixed?", "csrf_token": csrf(listing)}
    )
    assert answer.status_code == 409
    assert "cause persists" in answer.text
    assert "<html" in answer.text


def test_a_remote_open_is_confirmed_then_followed_until_the_bank_answers(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    asked = "/console/banks/maple-1/confirm?action=open&door=A03&reason=resident+locked+out"
    confirm = ann.get(asked + "&lang=en")
    assert confirm.status_code == 200
    assert "Door A03 of Maple-1 will open now." in confirm.text
    with Session(pages.console.engine) as s:
        assert s.exec(select(Command).where(Command.type == "door.open")).first() is None
    assert ann.get("/console/banks/maple-1/confirm?action=open&door=A03").status_code == 422
    assert (
        ann.get("/console/banks/maple-1/confirm?action=open&door=Z99&reason=x").status_code == 422
    )
    form = {"door": "A03", "reason": "resident locked out", "csrf_token": csrf(confirm.text)}
    sent = ann.post("/console/banks/maple-1/actions/open", data=form)
    assert sent.status_code == 303
    follow = sent.headers["location"]
    command_id = follow.split("command=")[1].split("#")[0]
    assert "Waiting to be sent" in ann.get(follow.split("#")[0] + "&lang=en&part=command").text
    record_ack(
        pages.console.engine,
        "maple-1",
        CommandAck(command_id=command_id, outcome="applied", edge_time=pages.now()),
    )
    part = ann.get(follow.split("#")[0] + "&lang=en&part=command").text
    assert "Done by the bank" in part
    assert ann.post("/console/banks/elm-1/actions/open", data=form).status_code == 404


def test_records_export_as_csv_holds_the_rows_made(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.deposit("maple-1", "SF1001", "A01", "13800138000")
    pages.deposit("maple-1", "JD2002", "A02", "13900001234", carrier="jd")
    pages.deposit("birch-1", "SF9999", "A01", "13700005678")  # not ann's
    answer = ann.get("/console/records.csv?kind=deposit")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(answer.text)))
    assert sorted(r["waybill"] for r in rows) == ["JD2002", "SF1001"]
    assert "13800138000" not in answer.text
    page = ann.get("/console/records?kind=deposit&lang=en").text
    assert "SF1001" in page
    assert "SF9999" not in page
    assert ann.get("/console/records?since=yesterday").status_code == 422


def test_parcels_are_found_by_their_last_digits_with_the_phone_masked(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.deposit("maple-1", "SF1001", "A01", "13800138000")
    page = ann.get("/console/parcels?q=8000&lang=en").text
    assert "SF1001" in page
    assert "13800138000" not in page
    assert ann.get("/console/parcels?q=80").status_code == 422


def test_a_door_proposed_is_quarantined_in_one_click_by_an_admin(pages: Pages) -> None:
    pages.person("bob@example.org", PersonRole.OPERATOR_ADMIN)
    bob = pages.browser("bob@example.org")
    for _ in range(4):  # forced open again and again, a minute apart (not a flapping sensor)
        pages.send("maple-1", DoorForcedOpen(compartment="A04"))
        pages.send("maple-1", DoorClosed(compartment="A04"))
        pages.console.clock.advance(60)
    page = bob.get("/console/health?lang=en").text
    assert "Quarantine A04" in page
    answer = bob.post(
        "/console/health/quarantine",
        data={"bank": "maple-1", "door": "A04", "csrf_token": csrf(page)},
    )
    assert answer.status_code == 303
    assert "Quarantine A04" not in bob.get("/console/health?lang=en").text


def test_no_input_makes_a_500(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    for path in (
        "/console/?offset=-1",
        "/console/?q=" + "x" * 500,
        "/console/alarms?state=%00",
        "/console/banks/%00",
        "/console/reports?day=2026-13-45",
        "/console/parcels?bucket=nope&q=%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80%F0%9F%98%80",
        "/console/records?after=garbage",
        "/console/banks/maple-1/doors/" + "A" * 300,
    ):
        assert ann.get(path).status_code < 500, path
    token = csrf(ann.get("/console/alarms").text)
    pages.send("maple-1", DoorForcedOpen(compartment="A02"))
    with Session(pages.console.engine) as s:
        alarm = s.exec(select(Alarm)).one()
    for note in ("\x00", "x" * 10_000):
        answer = ann.post(
            f"/console/alarms/{alarm.id}/acknowledge", data={"note": note, "csrf_token": token}
        )
        assert answer.status_code == 422, note[:10]
    assert ann.post("/console/alarms/nope/close", data={"csrf_token": token}).status_code == 404
    assert (
        ann.post("/console/banks/maple-1/actions/nope", data={"csrf_token": token}).status_code
        == 404
    )


def test_what_people_write_is_shown_as_text_never_as_markup(pages: Pages) -> None:
    pages.person("ann@example.org")
    ann = pages.browser("ann@example.org")
    pages.send("maple-1", DoorForcedOpen(compartment="A02"))
    listing = ann.get("/console/alarms?lang=en").text
    with Session(pages.console.engine) as s:
        alarm = s.exec(select(Alarm)).one()
    note = '<script>alert("x")</script>'
    form = {"note": note, "csrf_token": csrf(listing)}
    assert ann.post(f"/console/alarms/{alarm.id}/acknowledge", data=form).status_code == 303
    listing = ann.get("/console/alarms?lang=en").text
    assert note not in listing
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in listing


def test_only_an_operator_admin_is_shown_the_people_page_in_the_nav(pages: Pages) -> None:
    pages.person("ann@example.org")  # a site manager
    pages.person("olga@example.org", PersonRole.OPERATOR_ADMIN)
    link = 'href="/console/people"'
    assert link not in pages.browser("ann@example.org").get("/console/?lang=en").text
    assert link in pages.browser("olga@example.org").get("/console/?lang=en").text
