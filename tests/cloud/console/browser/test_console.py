"""The console in Chromium, served by uvicorn over PostgreSQL: one server and one browser for
the module. Bank events and command answers arrive through the services the ingest process
runs (``ingest_event``, ``record_ack``), from the test's thread, while the page stays open.

A manager sees a forced door appear on the alarms page without reloading, acknowledges it, and
sees it go when the door is shut; remote-opens a door with a reason and sees the bank's answer
arrive; exports records as CSV and finds the rows made. Another operator's manager sees neither
the page nor a word of it on the live stream. axe-core finds no serious or critical violation
on any page, and every page is photographed in Chinese and English.
"""

from __future__ import annotations

import csv
import io
import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, select

from cloud.console.accounts import links, people
from cloud.console.accounts.tables import LinkPurpose, PersonRole
from cloud.core.config import Settings
from cloud.core.db import transaction
from cloud.core.migrate import upgrade
from cloud.main import create_app
from cloud.models import Alarm, Bank, Carrier, Compartment, Operator, Site
from cloud.services.commands import record_ack
from cloud.services.ingest import ingest_event
from locker_contract.events import DoorClosed, DoorForcedOpen, Envelope, Event, ParcelDeposited
from locker_contract.messages import CommandAck
from tests.cloud.console.accounts.conftest import PASSWORD
from tests.conftest import postgres_database
from tests.controller.kiosk.conftest import CHROMIUM, CHROMIUM_FLAGS, require_chromium
from tests.controller.kiosk.test_pages import accessible, shot
from tests.test_recipient_page import free_port, serve

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_TIMEOUT_MS = 15_000  # a deadline for what arrives live, not a wait
BANKS = {"maple-1": "maple", "elm-1": "elm"}  # bank -> site; elm is another operator's
PEOPLE = {  # email -> role, operator, sites
    "ann@example.org": (PersonRole.SITE_MANAGER, "estates", frozenset({"maple"})),
    "bob@example.org": (PersonRole.OPERATOR_ADMIN, "estates", frozenset()),
    "rita@example.org": (PersonRole.SITE_MANAGER, "rival", frozenset({"elm"})),
}


@dataclass
class Running:
    url: str
    engine: Engine
    seqs: dict[str, int] = field(default_factory=dict)

    def send(self, bank: str, event: Event) -> None:
        """One bank event, through the service the ingest process runs."""
        self.seqs[bank] = self.seqs.get(bank, 0) + 1
        at = datetime.now(UTC)
        envelope = Envelope(
            event_id=uuid.uuid4(), bank_id=bank, seq=self.seqs[bank], time=at, event=event
        )
        assert ingest_event(self.engine, envelope, at).applied_seq == self.seqs[bank]

    def deposit(self, bank: str, waybill: str, label: str, carrier: str = "sf") -> None:
        self.send(
            bank,
            ParcelDeposited(
                parcel_id=uuid.uuid5(uuid.NAMESPACE_URL, waybill),
                waybill=waybill,
                carrier=carrier,
                courier_id=f"{carrier}-c1",
                compartment=label,
                recipient_phone="13800138000",
                group_id=uuid.uuid4(),
                sealed_code=None,
                consent="recipient_app",
                flagged_for_review=False,
            ),
        )

    def open_alarms(self, bank: str) -> list[Alarm]:
        with Session(self.engine) as s:
            query = select(Alarm).where(Alarm.bank_id == bank, Alarm.cleared_at == None)  # noqa: E711
            return list(s.exec(query))


def _world(engine: Engine, secret_key: str) -> None:
    now = datetime.now(UTC)
    with Session(engine) as s:
        s.add(Operator(id="estates", name="Estates Ltd"))
        s.add(Operator(id="rival", name="Rival Homes"))
        s.add(Carrier(id="sf", name="SF"))
        s.add(Carrier(id="jd", name="JD"))
        s.flush()
        for site, owner in (("maple", "estates"), ("elm", "rival")):
            s.add(Site(id=site, operator_id=owner, name=site.title(), lat=31.2, lon=121.4))
        s.flush()
        for bank, site in BANKS.items():
            s.add(Bank(id=bank, site_id=site, name=bank.title(), online=True, status_since=now))
            s.flush()
            for label in ("A01", "A02", "A03", "A04", "A05", "A06"):
                s.add(Compartment(bank_id=bank, label=label, size="M", size_rank=2))
        s.commit()
    for email, (role, operator, sites) in PEOPLE.items():
        new = people.NewPerson(
            email, email.split("@", maxsplit=1)[0].title(), role, operator, sites
        )
        with transaction(engine) as s:
            row = people.create_person(s, new, now)
            token = links.issue(s, secret_key, row.id, LinkPurpose.INVITE, now)
        people.set_password(engine, secret_key, token, PASSWORD, now)


@pytest.fixture(scope="module")
def site() -> Iterator[Running]:
    require_chromium()
    for database_url in postgres_database():
        settings = Settings(
            database_url=database_url,
            secret_key=secrets.token_hex(32),
            console_live_poll_s=0.2,
            console_live_heartbeat_s=5.0,
        )
        upgrade(database_url)
        app = create_app(settings)
        try:
            _world(app.state.engine, settings.secret_key)
            config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
            for url in serve(config):
                yield Running(url.replace("127.0.0.1", "localhost"), app.state.engine)
        finally:
            app.state.engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def signed_in(browser: Browser, site: Running) -> Iterator[dict[str, Page]]:
    """A page per person asked for, each in its own browser context (its own cookies)."""
    opened: dict[str, Page] = {}
    contexts = []
    for email in PEOPLE:
        context = browser.new_context(base_url=site.url, accept_downloads=True, locale="zh-CN")
        contexts.append(context)
        page = context.new_page()
        page.goto("/console/sign-in")
        page.locator("#email").fill(email)
        page.locator("#password").fill(PASSWORD)
        page.locator("form[action='/console/sign-in'] button[type=submit]").click()
        page.wait_for_url("**/console/")
        opened[email] = page
    yield opened
    for context in contexts:
        context.close()


def live_on(page: Page) -> None:
    expect(page.locator("#live.on")).to_be_visible(timeout=LIVE_TIMEOUT_MS)


def test_a_forced_door_appears_live_is_acknowledged_and_goes_when_shut(
    site: Running, signed_in: dict[str, Page]
) -> None:
    ann = signed_in["ann@example.org"]
    ann.goto("/console/alarms?lang=en")
    live_on(ann)
    ann.evaluate("window.__sameDocument = true")
    site.send("maple-1", DoorForcedOpen(compartment="A02"))
    alarm = ann.locator("li.alarm", has_text="Door forced open")
    expect(alarm).to_contain_text("A02", timeout=LIVE_TIMEOUT_MS)
    assert ann.evaluate("window.__sameDocument") is True  # it came without a reload
    alarm.get_by_label("Note").first.fill("guard on the way")
    alarm.get_by_role("button", name="Acknowledge").click()
    expect(ann.locator("li.alarm.acknowledged")).to_contain_text("guard on the way")
    live_on(ann)
    ann.evaluate("window.__sameDocument = true")
    site.send("maple-1", DoorClosed(compartment="A02"))
    expect(ann.locator("li.alarm", has_text="A02")).to_have_count(0, timeout=LIVE_TIMEOUT_MS)
    assert ann.evaluate("window.__sameDocument") is True
    assert site.open_alarms("maple-1") == []


def test_a_remote_open_is_confirmed_and_the_banks_answer_arrives_live(
    site: Running, signed_in: dict[str, Page]
) -> None:
    ann = signed_in["ann@example.org"]
    ann.goto("/console/banks/maple-1?lang=en")
    ann.locator("#open-door").select_option("A03")
    ann.locator("#open-reason").fill("resident locked out")
    ann.get_by_role("button", name="Open remotely").click()
    expect(ann.locator("main")).to_contain_text("Door A03 of Maple-1 will open now.")
    ann.get_by_role("button", name="Yes, do it").click()
    state = ann.locator("#region-command")
    expect(state).to_contain_text("Waiting to be sent")
    live_on(ann)
    command_id = ann.url.split("command=")[1].split("#")[0].split("&")[0]
    ack = CommandAck(command_id=command_id, outcome="applied", edge_time=datetime.now(UTC))
    record_ack(site.engine, "maple-1", ack)
    expect(state).to_contain_text("Done by the bank", timeout=LIVE_TIMEOUT_MS)


def test_records_export_as_csv_with_the_rows_made(
    site: Running, signed_in: dict[str, Page]
) -> None:
    site.deposit("maple-1", "SF5501", "A05")
    site.deposit("maple-1", "JD5502", "A06", carrier="jd")
    site.deposit("elm-1", "SF5599", "A01")  # another operator's
    bob = signed_in["bob@example.org"]
    bob.goto("/console/records?kind=deposit&lang=en")
    with bob.expect_download() as info:
        bob.get_by_role("link", name="Export CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8")
    waybills = {row["waybill"] for row in csv.DictReader(io.StringIO(text))}
    assert {"SF5501", "JD5502"} <= waybills
    assert "SF5599" not in waybills
    assert "13800138000" not in text


def wait_until_heard(page: Page, prefix: str) -> bool:
    """Whether the page's own EventSource heard an event of ``prefix`` before the deadline (its
    script is read with ``evaluate``: the page's CSP forbids the eval wait_for_function uses)."""
    for _ in range(LIVE_TIMEOUT_MS // 100):
        heard: list[str] = page.evaluate("window.__heard")
        if any(h.startswith(prefix) for h in heard):
            return True
        page.wait_for_timeout(100)
    return False


def test_another_operators_manager_sees_neither_the_page_nor_the_stream(
    site: Running, signed_in: dict[str, Page]
) -> None:
    rita, ann = signed_in["rita@example.org"], signed_in["ann@example.org"]
    answer = rita.goto("/console/banks/maple-1?lang=en")
    assert answer is not None
    assert answer.status == 404
    expect(rita.locator("main")).not_to_contain_text("Maple")
    listen = """() => { window.__heard = []; const source = new EventSource('/console/live');
        ['alarms', 'commands', 'banks'].forEach(t => source.addEventListener(t,
            e => window.__heard.push(t + ':' + e.data))); }"""
    for page in (rita, ann):
        page.goto("/console/?lang=en")
        live_on(page)
        page.evaluate(listen)
    ann.wait_for_timeout(1000)  # both streams have read their first fingerprints
    site.send("maple-1", DoorForcedOpen(compartment="A04"))
    heard_by_ann = wait_until_heard(ann, "alarms:")
    assert heard_by_ann, "ann's stream did not tell the alarm"
    rita.wait_for_timeout(1000)  # five of its polls after ann's stream told the alarm
    assert rita.evaluate("window.__heard") == []
    expect(rita.locator("main")).not_to_contain_text("Maple")
    site.send("maple-1", DoorClosed(compartment="A04"))


PAGES = {  # a name for the screenshot -> the path
    "sign-in": "/console/sign-in",
    "fleet": "/console/",
    "bank": "/console/banks/maple-1",
    "door": "/console/banks/maple-1/doors/A02",
    "confirm": "/console/banks/maple-1/confirm?action=open&door=A03&reason=resident+locked+out",
    "alarms": "/console/alarms?state=",
    "parcels": "/console/parcels",
    "records": "/console/records",
    "reports": "/console/reports",
    "health": "/console/health",
    "cold": "/console/cold",
    "people": "/console/people",
    "forgot": "/console/forgot",
    "password": "/console/password",
}
PUBLIC = {"sign-in", "forgot", "password"}  # seen before signing in


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_is_accessible_and_photographed(
    site: Running, browser: Browser, signed_in: dict[str, Page], lang: str
) -> None:
    bob = signed_in["bob@example.org"]
    site.deposit("maple-1", f"SF77{lang}1", {"zh": "A02", "en": "A03"}[lang])  # empty doors
    site.send("maple-1", DoorForcedOpen(compartment="A04"))
    for name, path in PAGES.items():
        if name in PUBLIC:
            context = browser.new_context(base_url=site.url, locale="zh-CN")
            page = context.new_page()
        else:
            page, context = bob, None
        join = "&" if "?" in path else "?"
        answer = page.goto(f"{path}{join}lang={lang}")
        assert answer is not None
        assert answer.status == 200, name
        accessible(page)
        shot(page, f"console-{name}-{lang}")
        if context is not None:
            context.close()
    site.send("maple-1", DoorClosed(compartment="A04"))


def test_on_a_phone_no_page_is_wider_than_the_screen_and_the_keyboard_reaches_main(
    site: Running, browser: Browser
) -> None:
    context = browser.new_context(
        base_url=site.url, viewport={"width": 360, "height": 740}, is_mobile=True, locale="zh-CN"
    )
    page = context.new_page()
    page.goto("/console/sign-in")
    page.keyboard.press("Tab")
    expect(page.locator("a.skip")).to_be_focused()  # the first stop is "skip to content"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#email")).to_be_focused()  # then straight into the form
    page.keyboard.type("ann@example.org")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/")
    for name, path in PAGES.items():
        if name == "sign-in":
            continue
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, (name, width)
        accessible(page)  # a table that scrolls sideways must be reachable by keyboard
        if name in ("fleet", "bank"):
            shot(page, f"console-{name}-phone-zh")
    context.close()
