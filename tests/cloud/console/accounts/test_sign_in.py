"""Signing in and out: good and bad passwords, cookie flags, throttling and lockout, session
expiry on the app's clock, sign-out and rotation, where a page goes without a session."""

from __future__ import annotations

from http.cookies import SimpleCookie

from httpx2 import Response

from cloud.console.accounts import sessions, throttle
from cloud.console.accounts.deps import SESSION_COOKIE
from tests.cloud.console.accounts.conftest import Console

SIGN_IN_PAGE = "/console/sign-in"


def session_cookie(answer: Response) -> SimpleCookie:
    headers = answer.headers.get_list("set-cookie")
    jar: SimpleCookie = SimpleCookie()
    for header in headers:
        if header.startswith(SESSION_COOKIE + "="):
            jar.load(header)
    return jar


def only_cookie(console: Console, token: str | None) -> None:
    """The browser holds this session cookie and nothing else (an old or a stolen one)."""
    assert token
    console.client.cookies.clear()
    console.client.cookies.set(SESSION_COOKIE, token)


def test_the_right_password_signs_in_with_a_safe_cookie(console: Console) -> None:
    console.person("ann@example.org")
    answer = console.sign_in("Ann@Example.org ", next="/console/alarms")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/alarms"
    morsel = session_cookie(answer)[SESSION_COOKIE]
    assert morsel["httponly"]
    assert morsel["secure"]
    assert morsel["samesite"].lower() == "lax"
    assert morsel["path"] == "/console"
    assert console.client.get("/console/people").status_code == 403  # in, but not an admin


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(console: Console) -> None:
    console.person("ann@example.org")
    wrong = console.sign_in("ann@example.org", "not the password at all")
    unknown = console.sign_in("nobody@example.org", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    assert SESSION_COOKIE not in session_cookie(wrong)
    assert wrong.text == unknown.text.replace("nobody@", "ann@")
    assert "邮箱或密码不正确" in wrong.text


def test_next_never_leaves_the_console(console: Console) -> None:
    console.person("ann@example.org")
    answer = console.sign_in("ann@example.org", next="https://evil.example/console")
    assert answer.headers["location"] == "/console/"


def test_an_email_is_locked_out_after_five_failures_and_the_lockout_grows(
    console: Console,
) -> None:
    console.person("ann@example.org")
    for _ in range(throttle.EMAIL.allowance):
        assert console.sign_in("ann@example.org", "wrong wrong wrong").status_code == 401
    locked = console.sign_in("ann@example.org")  # even the right password
    assert locked.status_code == 429
    assert locked.headers["retry-after"] == "30"
    console.clock.advance(31)
    assert console.sign_in("ann@example.org", "wrong again, sadly").status_code == 401
    assert console.sign_in("ann@example.org").headers["retry-after"] == "60"  # doubled
    console.clock.advance(61)
    assert console.sign_in("ann@example.org").status_code == 303  # and the ramp is cleared
    assert console.sign_in("ann@example.org", "one more wrong guess").status_code == 401


def test_an_address_guessing_many_emails_is_locked_out(console: Console) -> None:
    console.person("ann@example.org")
    for n in range(throttle.ADDRESS.allowance):
        assert console.sign_in(f"guess{n}@example.org", "wrong wrong wrong").status_code == 401
    assert console.sign_in("ann@example.org").status_code == 429


def test_a_session_ends_when_idle_and_at_its_lifetime(console: Console) -> None:
    console.person("ann@example.org", password="idle idle idle idle")
    assert console.sign_in("ann@example.org", "idle idle idle idle").status_code == 303
    console.clock.advance(sessions.IDLE_TIMEOUT.total_seconds() - 5)
    assert console.client.get("/console/people").status_code == 403  # still in (and touched)
    console.clock.advance(sessions.IDLE_TIMEOUT.total_seconds() + 1)
    gone = console.client.get("/console/people")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fpeople"
    assert console.sign_in("ann@example.org", "idle idle idle idle").status_code == 303
    for _ in range(int(sessions.SESSION_LIFETIME / sessions.IDLE_TIMEOUT) + 1):
        console.clock.advance(sessions.IDLE_TIMEOUT.total_seconds() - 60)
        console.client.get("/console/people")
    assert console.client.get("/console/people").status_code == 303  # active, but too old


def test_without_a_session_streams_htmx_and_json_get_401(console: Console) -> None:
    for headers in (
        {"accept": "text/event-stream"},
        {"hx-request": "true"},
        {"accept": "application/json"},
    ):
        assert console.client.get("/console/people", headers=headers).status_code == 401


def test_sign_out_revokes_the_session(console: Console) -> None:
    console.person("ann@example.org")
    console.sign_in("ann@example.org")
    stolen = console.client.cookies.get(SESSION_COOKIE)
    token = console.csrf("/console/people")
    out = console.client.post("/console/sign-out", data={"csrf_token": token})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in?done=out"
    only_cookie(console, stolen)
    assert console.client.get("/console/people").status_code == 303


def test_signing_in_again_rotates_the_session(console: Console) -> None:
    console.person("ann@example.org")
    console.sign_in("ann@example.org")
    first = console.client.cookies.get(SESSION_COOKIE)
    console.sign_in("ann@example.org")
    second = console.client.cookies.get(SESSION_COOKIE)
    assert first
    assert second
    assert first != second
    only_cookie(console, first)
    assert console.client.get("/console/people").status_code == 303


def test_the_pages_own_background_refreshes_do_not_keep_a_session_alive(
    console: Console,
) -> None:
    """A console left open refreshes its regions (``HX-Request``) whenever the fleet changes:
    that is not the person, so the session still idles out."""
    console.person("ann@example.org", password="idle idle idle idle")
    assert console.sign_in("ann@example.org", "idle idle idle idle").status_code == 303
    step = sessions.IDLE_TIMEOUT.total_seconds() / 3
    for _ in range(2):
        console.clock.advance(step)
        refresh = console.client.get("/console/people", headers={"hx-request": "true"})
        assert refresh.status_code == 403  # still signed in: only admins manage people
    console.clock.advance(step + 1)
    assert console.client.get("/console/people", headers={"hx-request": "true"}).status_code == 401
