"""The recipient's page end to end, in Chromium: the cloud served by uvicorn with its ingest
worker as its own process, a Mosquitto of the test's own, and a bank on the twin whose kiosk is
served by uvicorn too.

Two recipients' parcels go into the bank. The first recipient opens the link their message
carries (the code in its fragment, as the notifier writes it): the page's QR code decodes to
their code, and that code, typed into the kiosk as a keyboard-wedge scanner types it, opens
their doors. The second extends their storage, refuses one parcel and shares a second code,
revokes it and shares another: each is reflected at the bank, and the second code opens the
door. The first then says no to lockers, and the kiosk refuses a deposit for them. A tampered
link and an expired one get their pages.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import httpx2
import pytest
import uvicorn
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, Locator, Page, sync_playwright
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cloud.models import Notification, Parcel
from cloud.recipients.links import make_token
from controller.api import create_app, server_config
from controller.config import load_config
from controller.daemon import Edge
from controller.recipients import GroupExtension, RecipientRefusal
from controller.shared_codes import SharedCode
from controller.store import Parcel as EdgeParcel
from controller.store import transaction
from hil_sim import Simulator
from hil_sim.door import DoorState
from locker_cli.main import app as locker_app
from locker_contract import sealing
from tests.brokers import Mosquitto
from tests.cloud.conftest import Cloud
from tests.controller.conftest import FAST_POLICY, config_text
from tests.controller.kiosk.conftest import CHROMIUM, CHROMIUM_FLAGS, require_chromium
from tests.controller.kiosk.test_pages import accessible, shot
from tests.linkbench import FAST_LINK
from tests.test_end_to_end import (  # cloud and mosquitto: fixtures, a broker and a cloud
    EAST,
    NOTIFY_PRIVATE,
    NOTIFY_PUBLIC,
    cloud,
    mosquitto,
    set_up_fleet,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]
__all__ = ["cloud", "mosquitto"]  # fixtures shared with tests/test_end_to_end.py

FIRST, SECOND = "13800138000", "13900139000"
START_TIMEOUT_S = 60.0  # a deadline, not a wait


def serve(config: uvicorn.Config) -> Iterator[str]:
    """``config``'s app served by uvicorn in a thread, until the generator is closed."""
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"serve-{config.port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not server.started:
            assert thread.is_alive(), "the server stopped before it started"
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT_S)
        assert not thread.is_alive(), "the server did not stop"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


EdgeTable = type[SharedCode] | type[GroupExtension] | type[RecipientRefusal]


@dataclass
class Rig:
    cloud: Cloud
    cloud_url: str
    kiosk_url: str
    sim: Simulator
    edge: Edge
    config_path: Path

    @property
    def engine(self) -> Engine:
        engine: Engine = self.cloud.engine
        return engine

    def door_open(self, label: str) -> bool:
        board, lock = "AB".index(label[0]) + 1, int(label[1:])
        return self.sim.door(board, lock).state is DoorState.OPEN

    def shut(self, label: str) -> None:
        wait_until(lambda: self.door_open(label), what=f"door {label} open")
        board, lock = "AB".index(label[0]) + 1, int(label[1:])
        assert self.sim.close_door(board, lock)

    def edge_rows(
        self, model: type[SharedCode] | type[GroupExtension] | type[RecipientRefusal]
    ) -> int:
        with transaction(self.edge.engine) as s:
            return len(list(s.exec(select(model))))

    def edge_state(self, waybill: str) -> str:
        with transaction(self.edge.engine) as s:
            return str(s.exec(select(EdgeParcel).where(EdgeParcel.waybill == waybill)).one().state)


@pytest.fixture
def rig(cloud: Cloud, mosquitto: Mosquitto, tmp_path: Path) -> Iterator[Rig]:
    """The cloud of the end-to-end test (its ingest worker a process) served by uvicorn too."""
    require_chromium()
    app = cloud.client.app
    config = uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    for cloud_url in serve(config):
        yield from _bank(cloud, cloud_url, mosquitto.url, tmp_path)


def _bank(cloud: Cloud, cloud_url: str, broker: str, tmp_path: Path) -> Iterator[Rig]:
    sim = Simulator("xor8a", [1, 2], 8, close_after=None)
    folder = tmp_path / EAST
    folder.mkdir()
    port = free_port()
    text = config_text(sim.start(), folder / "edge.db", extra=FAST_POLICY)
    link = "\n".join(f"{k} = {v}" for k, v in FAST_LINK.items())
    path = folder / "edge.toml"
    path.write_text(
        text.replace("maple-court-3", EAST)
        + f'\n[api]\nhost = "127.0.0.1"\nport = {port}\n'
        + f'\n[link]\nbroker = "{broker}"\nnotify_public_key = "{NOTIFY_PUBLIC}"\n{link}\n'
    )
    edge = Edge(load_config(path))
    try:
        for kiosk_url in serve(
            server_config(create_app(edge), edge.config.api, log_level="warning")
        ):
            yield Rig(cloud, cloud_url, kiosk_url, sim, edge, path)
    finally:
        edge.engine.dispose()
        sim.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def phone_page(browser: Browser, language: str) -> Page:
    """A phone's browser (its screen, its language)."""
    locale = "zh-CN" if language == "zh" else "en-GB"
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale=locale,
                                  device_scale_factor=2)  # fmt: skip
    return context.new_page()


def follow(page: Page, target: Locator) -> None:
    """Click a link or a form's button and wait for the page it leads to."""
    with page.expect_navigation():
        target.click()


def decoded(qr: Locator) -> str:
    """What a scanner reads from the QR code on screen (zxing-cpp on a screenshot)."""
    image = Image.open(io.BytesIO(qr.screenshot()))
    [barcode] = zxingcpp.read_barcodes(image)
    return str(barcode.text)


def deposit(rig: Rig, courier: dict[str, str], waybill: str, phone: str) -> str:
    body = {"waybill": waybill, "phone": phone, "size": "M", "consent": "phone_call"}
    answer = httpx2.post(f"{rig.kiosk_url}/api/deposits", json=body, headers=courier)
    assert answer.status_code == 201, answer.text
    label = str(answer.json()["compartment"])
    rig.shut(label)
    return label


def courier(rig: Rig) -> dict[str, str]:
    added = CliRunner().invoke(locker_app, ["edge", "--config", str(rig.config_path), "couriers",
                                            "add", "--id", "c1", "--carrier", "sf", "--pin",
                                            "2468"])  # fmt: skip
    assert added.exit_code == 0, added.output
    signed = httpx2.post(f"{rig.kiosk_url}/api/courier/sign-in",
                        json={"courier_id": "c1", "pin": "2468"})  # fmt: skip
    assert signed.status_code == 200, signed.text
    return {"Authorization": f"Bearer {signed.json()['token']}"}


def in_cloud(rig: Rig, waybill: str) -> Parcel | None:
    with Session(rig.engine) as s:
        return s.exec(select(Parcel).where(Parcel.waybill == waybill)).first()


def link(rig: Rig, waybill: str, code: str | None = None, days: float = 3) -> str:
    """The link the notifier writes into the recipient's message (``recipient_link``)."""
    parcel = in_cloud(rig, waybill)
    assert parcel is not None
    assert parcel.group_id is not None
    expires = datetime.now(UTC) + timedelta(days=days)
    token = make_token(rig.cloud.settings.secret_key, parcel.group_id, expires)
    return f"{rig.cloud_url}/r/{token}" + (f"#{code}" if code else "")


def code_of(rig: Rig, waybill: str) -> str:
    """The code the notifier opens in flight from the group's notice, sealed by the bank."""
    parcel = in_cloud(rig, waybill)
    assert parcel is not None
    with Session(rig.engine) as s:
        query = select(Notification).where(
            Notification.group_id == parcel.group_id, col(Notification.sealed_code).is_not(None)
        )
        notice = s.exec(query).one()
        assert notice.sealed_code is not None
        return sealing.open_code(sealing.private_key(NOTIFY_PRIVATE), notice.sealed_code)


def scan_at_kiosk(browser: Browser, rig: Rig, content: str) -> None:
    """The kiosk's scanner is a keyboard wedge: it types what the QR code holds, then Enter."""
    kiosk = browser.new_context(viewport={"width": 1080, "height": 1400}).new_page()
    kiosk.goto(f"{rig.kiosk_url}/kiosk/pickup")
    kiosk.locator("#code").focus()
    kiosk.keyboard.type(content)
    with kiosk.expect_navigation():  # the form posted and its answer shown
        kiosk.keyboard.press("Enter")
    kiosk.context.close()


def test_the_recipients_page_end_to_end(browser: Browser, rig: Rig) -> None:
    set_up_fleet(rig.cloud)
    headers = courier(rig)
    first = [deposit(rig, headers, w, FIRST) for w in ("SF1", "SF2")]
    second = [deposit(rig, headers, w, SECOND) for w in ("SF3", "SF4")]
    for waybill in ("SF1", "SF2", "SF3", "SF4"):
        wait_until(partial(_ingested, rig, waybill), what=f"{waybill} in the cloud")
    page = own_code_opens_the_doors(browser, rig, first)
    extend_refuse_and_share(browser, rig, second)
    said_no_and_bad_links(rig, page, headers)


def own_code_opens_the_doors(browser: Browser, rig: Rig, labels: list[str]) -> Page:
    """The QR code from the first recipient's link is their code; it opens their doors."""
    code = code_of(rig, "SF1")
    page = phone_page(browser, "zh")
    page.goto(link(rig, "SF1", code))
    qr = page.locator("#own-code .qr svg")
    qr.wait_for()
    scanned = decoded(qr)
    assert scanned == code
    assert page.locator("#own-code .code").inner_text() == f"{code[:4]} {code[4:]}"
    assert ", ".join(labels) in page.locator(".labels").inner_text()
    accessible(page)
    shot(page, "recipient-zh")
    follow(page, page.get_by_role("link", name="English"))
    page.locator("#own-code .qr svg").wait_for()  # the switch keeps the code's fragment
    assert decoded(page.locator("#own-code .qr svg")) == code
    shot(page, "recipient-en")
    scan_at_kiosk(browser, rig, scanned)
    for label in labels:
        rig.shut(label)
    wait_until(lambda: _status(rig, "SF1") == "picked_up", what="SF1 picked up, in the cloud")
    return page


def extend_refuse_and_share(browser: Browser, rig: Rig, labels: list[str]) -> None:
    """The second recipient extends, refuses one parcel, shares a code, revokes it and shares
    another, which opens the door: each reflected at the bank."""
    page = phone_page(browser, "en")
    page.goto(link(rig, "SF3", code_of(rig, "SF3")))
    follow(page, page.get_by_role("button", name="Keep it 24 hours longer (once)"))
    assert "Extended." in page.locator("[role=status]").inner_text()
    wait_until(lambda: rig.edge_rows(GroupExtension) == 1, what="the extension at the bank")
    row = page.locator("li").filter(has_text=labels[1])
    follow(page, row.get_by_role("button", name="Refuse this parcel (back to its carrier)"))
    wait_until(lambda: rig.edge_state("SF4") == "return_pending", what="SF4 a return")
    wait_until(lambda: _status(rig, "SF4") == "return_pending", what="SF4 a return, in the cloud")
    page.reload()
    assert "Going back to the courier" in page.content()
    shared = page.locator("section", has_text="Code for someone else").locator("svg")
    follow(page, page.get_by_role("button", name="Give someone a code to pick up for you"))
    revoked = decoded(shared)
    wait_until(lambda: rig.edge_rows(SharedCode) == 1, what="the shared code at the bank")
    follow(page, page.get_by_role("button", name="Revoke this code"))
    wait_until(lambda: rig.edge_rows(SharedCode) == 0, what="the shared code revoked")
    tried = httpx2.post(f"{rig.kiosk_url}/api/pickup", json={"code": revoked})
    assert tried.status_code == 401
    follow(page, page.get_by_role("button", name="Give someone a code to pick up for you"))
    second = decoded(shared)
    assert second not in (revoked, code_of(rig, "SF3"))
    wait_until(lambda: rig.edge_rows(SharedCode) == 1, what="the new shared code at the bank")
    shot(page, "recipient-shared-en")
    scan_at_kiosk(browser, rig, second)
    rig.shut(labels[0])
    wait_until(lambda: _status(rig, "SF3") == "picked_up", what="SF3 picked up, in the cloud")


def said_no_and_bad_links(rig: Rig, page: Page, headers: dict[str, str]) -> None:
    """The first recipient says no to lockers: the kiosk refuses a deposit for them. A tampered
    link and an expired one get their pages."""
    page.goto(link(rig, "SF1") + "?lang=zh")
    follow(page, page.get_by_role("button", name="不要投递到快递柜"))
    wait_until(lambda: rig.edge_rows(RecipientRefusal) == 1, what="the refusal at the bank")
    body = {"waybill": "SF5", "phone": FIRST, "size": "M", "consent": "phone_call"}
    refused = httpx2.post(f"{rig.kiosk_url}/api/deposits", json=body, headers=headers)
    assert refused.status_code == 409
    good = link(rig, "SF1")
    answer = page.goto(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
    assert answer is not None
    assert answer.status == 403
    answer = page.goto(link(rig, "SF1", days=-1))
    assert answer is not None
    assert answer.status == 410
    shot(page, "recipient-expired-en")


def _ingested(rig: Rig, waybill: str) -> bool:
    parcel = in_cloud(rig, waybill)
    return parcel is not None and parcel.group_id is not None


def _status(rig: Rig, waybill: str) -> str:
    parcel = in_cloud(rig, waybill)
    return "" if parcel is None else str(parcel.status)
