"""The kiosk's pages in a real browser: couriers and recipients, both languages, accessibility.

Each test checks the words on screen in Chinese and in English and saves a screenshot under
docs/screenshots/. axe-core runs in the page; no serious or critical violation may remain.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, expect, sync_playwright
from typer.testing import CliRunner

from controller.codes import mask_phone
from hil_sim.door import DoorState
from locker_cli.main import app as locker_app
from tests.controller.kiosk.conftest import (
    CHROMIUM,
    CHROMIUM_FLAGS,
    SCREENSHOTS,
    Kiosk,
    require_chromium,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    require_chromium()  # set up before the kiosk fixture that also checks: skip, not error
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, kiosk: Kiosk) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1080, "height": 1400}, base_url=kiosk.url)
    yield context.new_page()
    context.close()


def shut(kiosk: Kiosk, label: str) -> None:
    board, lock = "AB".index(label[0]) + 1, int(label[1:])
    wait_until(lambda: kiosk.sim.door(board, lock).state is DoorState.OPEN)
    assert kiosk.sim.close_door(board, lock)


def add_courier(kiosk: Kiosk, courier_id: str, carrier: str) -> None:
    args = ["edge", "--config", str(kiosk.config_path), "couriers", "add", "--id", courier_id]
    done = CliRunner().invoke(locker_app, [*args, "--carrier", carrier, "--pin", "2468"])
    assert done.exit_code == 0, done.output


def codes(kiosk: Kiosk) -> list[str | None]:
    """The codes the couriers' screens showed, by deposit: this bank has no notifier key, so its
    store keeps none (decision 0011)."""
    with contextlib.closing(sqlite3.connect(kiosk.edge.config.bank.database)) as db:
        rows = db.execute(
            "SELECT o.body, d.id, d.courier_id FROM outbox o JOIN deposit d"
            " ON d.parcel_id = json_extract(o.body, '$.parcel_id')"
            " WHERE o.type = 'parcel.deposited' ORDER BY o.seq"
        ).fetchall()
    assert [json.loads(body)["sealed_code"] for body, _, _ in rows] == [None] * len(rows)
    return [kiosk.edge.flows.handoff.show(deposit, courier) for _, deposit, courier in rows]


def language(page: Page, lang: str) -> None:
    page.context.add_cookies(
        [{"name": "kiosk_lang", "value": lang, "url": page.url or "http://127.0.0.1"}]
    )


def shot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def accessible(page: Page) -> None:
    result = Axe().run(page)
    serious = [v for v in result.response["violations"] if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps([(v["id"], v["help"]) for v in serious], ensure_ascii=False)


def sign_in(page: Page, courier_id: str) -> None:
    page.goto("/kiosk/courier")
    page.get_by_label("快递员编号").fill(courier_id)
    page.get_by_label("密码").fill("2468")
    page.get_by_role("button", name="登录").click()


def deposit(page: Page, kiosk: Kiosk, waybill: str, phone: str) -> str:
    page.get_by_label("运单号（扫描或输入）").fill(waybill)
    page.get_by_label("收件人手机号").fill(phone)
    page.get_by_label("中格 (M)").check()
    page.get_by_label("电话确认").check()
    page.get_by_label("收件人手机号").press("Enter")  # a scanner ends with Enter too
    status = page.get_by_role("status").first
    expect(status).to_contain_text("号柜门已打开，请放入包裹并关好柜门")
    expect(page.get_by_text(f"收件人：{mask_phone(phone)}")).to_be_visible()  # 6+ digits hidden
    label = page.locator(".big-label").inner_text()
    shut(kiosk, label)
    expect(page.get_by_text(f"包裹 {waybill} 已存入 {label} 号格口")).to_be_visible(timeout=10_000)
    return label


def test_two_companies_deposit_and_one_code_opens_both(page: Page, kiosk: Kiosk) -> None:
    add_courier(kiosk, "sf-0042", "sf-express")
    add_courier(kiosk, "jd-0007", "jd")
    page.goto("/kiosk/")
    expect(page.get_by_role("link", name="取件")).to_be_visible()
    accessible(page)
    shot(page, "home-zh")
    sign_in(page, "sf-0042")
    expect(page.get_by_text("已登录：sf-0042（sf-express）")).to_be_visible()
    accessible(page)
    first = deposit(page, kiosk, "SF1008611", "13800138000")
    expect(page.get_by_text("*******8000")).to_have_count(0)  # the recorded page shows no phone
    [shown] = codes(kiosk)
    assert shown is not None
    expect(page.locator(".handed-code")).to_contain_text(f"{shown[:4]} {shown[4:]}")
    shot(page, "deposit-recorded-zh")
    page.get_by_role("link", name="投递下一件").click()
    page.get_by_role("button", name="退出登录").click()
    sign_in(page, "jd-0007")
    second = deposit(page, kiosk, "JD0020099", "138-0013-8000")
    code, joined = codes(kiosk)
    assert joined is None  # one recipient, one code, whichever company delivered
    assert code is not None
    expect(page.locator(".handed-code")).to_have_count(0)  # nothing new to hand on
    page.goto("/kiosk/lang/en?next=/kiosk/pickup")
    expect(page.get_by_role("heading")).to_have_text("Enter your 8-digit pickup code")
    accessible(page)
    for digit in code:
        page.get_by_role("button", name=digit, exact=True).click()
    expect(page.get_by_label("Pickup code")).to_have_value(f"{code[:4]} {code[4:]}")
    shot(page, "pickup-code-en")
    page.get_by_role("button", name="Open").click()
    for label in (first, second):
        expect(
            page.get_by_text(f"Door {label} is open. Take your parcel and close the door.")
        ).to_be_visible()
    accessible(page)
    shot(page, "pickup-doors-en")
    page.goto("/kiosk/lang/zh?next=/kiosk/")
    expect(page.get_by_role("link", name="快递员投递")).to_be_visible()


def test_wrong_codes_show_tries_left_and_a_lockout_countdown(page: Page, kiosk: Kiosk) -> None:
    page.goto("/kiosk/pickup")
    code = page.get_by_label("取件码")
    for left in (4, 3, 2, 1):
        code.fill("1234 5678")
        code.press("Enter")  # keyboard alone
        expect(page.get_by_role("alert")).to_contain_text(f"取件码错误，还可尝试 {left} 次。")
    shot(page, "wrong-code-zh")
    page.get_by_label("取件码").fill("12345678")
    page.get_by_label("取件码").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("错误次数过多，请在 0:")
    expect(page.get_by_role("button", name="开门")).to_be_disabled()
    before = alert.inner_text()
    expect(alert).not_to_have_text(before)  # the countdown runs: waits for its next second
    accessible(page)
    shot(page, "lockout-zh")
    page.goto("/kiosk/lang/en?next=/kiosk/pickup")
    page.get_by_label("Pickup code").fill("12345678")
    page.get_by_label("Pickup code").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Too many wrong tries. Try again in 0:")
    shot(page, "lockout-en")


def test_a_refusal_becomes_a_return_the_courier_collects(page: Page, kiosk: Kiosk) -> None:
    add_courier(kiosk, "sf-0042", "sf-express")
    sign_in(page, "sf-0042")
    label = deposit(page, kiosk, "SF-DMG-1", "13900139000")
    page.get_by_role("link", name="投递下一件").click()
    page.get_by_role("button", name="退出登录").click()
    [code] = codes(kiosk)
    assert code is not None
    page.goto("/kiosk/pickup")
    page.get_by_label("取件码").fill(code)
    page.get_by_role("button", name="开门").click()
    expect(page.get_by_text(f"{label} 号柜门已打开，请取出包裹并关好柜门。")).to_be_visible()
    page.get_by_role("button", name="拒收（包裹破损）").click()
    expect(page.get_by_role("status")).to_contain_text("已拒收包裹 SF-DMG-1")
    accessible(page)
    shot(page, "refused-zh")
    shut(kiosk, label)
    page.goto("/kiosk/lang/en?next=/kiosk/courier")
    page.get_by_label("Courier ID").fill("sf-0042")
    page.get_by_label("PIN").fill("2468")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Returns to collect").click()
    expect(page.get_by_text("Reason: damaged")).to_be_visible()
    accessible(page)
    shot(page, "returns-en")
    page.get_by_role("button", name="Open all return doors").click()
    expect(
        page.get_by_text(f"Door {label} is open. Take return SF-DMG-1 and close the door.")
    ).to_be_visible()
    shot(page, "return-collect-en")


def test_bank_full_and_maintenance_are_explained(page: Page, kiosk: Kiosk) -> None:
    add_courier(kiosk, "sf-0042", "sf-express")
    runner = CliRunner()
    sign_in(page, "sf-0042")
    with sqlite3.connect(kiosk.edge.config.bank.database) as db:
        db.execute("UPDATE compartment SET in_service = 0 WHERE size = 'XL'")
    page.get_by_label("运单号（扫描或输入）").fill("BIG-1")
    page.get_by_label("收件人手机号").fill("13800138000")
    page.get_by_label("超大格 (XL)").check()
    page.get_by_label("电话确认").check()
    page.get_by_role("button", name="打开格口").click()
    expect(page.get_by_role("alert")).to_contain_text("没有合适的 XL 空闲格口")
    shot(page, "bank-full-zh")
    args = ["edge", "--config", str(kiosk.config_path), "maintenance", "on"]
    assert runner.invoke(locker_app, args).exit_code == 0
    page.goto("/kiosk/")
    expect(page.get_by_role("status")).to_have_text("快递柜正在维护，请稍后再来。")
    page.goto("/kiosk/lang/en?next=/kiosk/")
    expect(page.get_by_role("status")).to_have_text(
        "This locker is in maintenance. Please come back later."
    )
    accessible(page)
    shot(page, "maintenance-en")
