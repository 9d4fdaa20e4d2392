"""CSRF: every unsafe form under /console/ carries the token bound to its session (or, before
sign-in, to the pre-session cookie); missing or wrong is a 403 page, right goes through."""

from __future__ import annotations

import pytest
from fastapi import APIRouter

from cloud.console.accounts.deps import PRE_COOKIE, SESSION_COOKIE, CsrfChecked
from tests.cloud.console.accounts.conftest import Console


@pytest.fixture
def signed_in(console: Console) -> Console:
    console.person("ann@example.org")
    assert console.sign_in("ann@example.org").status_code == 303
    return console


@pytest.mark.parametrize("token", [None, "", "0" * 64])
def test_sign_out_without_the_right_token_is_a_403_page(
    signed_in: Console, token: str | None
) -> None:
    form = {} if token is None else {"csrf_token": token}
    answer = signed_in.client.post("/console/sign-out", data=form)
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
    assert "这个表单已过期" in answer.text
    assert signed_in.client.get("/console/people").status_code == 403  # still signed in


def test_the_right_token_in_the_form_or_the_header_goes_through(signed_in: Console) -> None:
    token = signed_in.csrf("/console/people")
    answer = signed_in.client.post("/console/sign-out", headers={"X-CSRF-Token": token})
    assert answer.status_code == 303


def test_a_token_is_bound_to_its_session(signed_in: Console) -> None:
    old = signed_in.csrf("/console/people")
    assert signed_in.sign_in("ann@example.org").status_code == 303  # a new session
    assert signed_in.client.post("/console/sign-out", data={"csrf_token": old}).status_code == 403
    new = signed_in.csrf("/console/people")
    assert new != old
    assert signed_in.client.post("/console/sign-out", data={"csrf_token": new}).status_code == 303


def test_the_sign_in_form_needs_its_pre_session_token(console: Console) -> None:
    console.person("ann@example.org")
    token = console.csrf()
    assert console.client.cookies.get(PRE_COOKIE)
    form = {"email": "ann@example.org", "password": "correct horse battery staple"}
    assert console.client.post("/console/sign-in", data=form).status_code == 403
    console.client.cookies.clear()  # another browser, with a token it was handed
    refused = console.client.post("/console/sign-in", data=form | {"csrf_token": token})
    assert refused.status_code == 403
    assert not console.client.cookies.get(SESSION_COOKIE)


def test_a_malformed_body_is_refused_not_a_500(signed_in: Console) -> None:
    answer = signed_in.client.post(
        "/console/sign-out",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert answer.status_code == 403


def test_a_console_route_of_any_route_class_refuses_as_a_page(signed_in: Console) -> None:
    """Whatever route class a later console router uses, a refusal is the page, not JSON."""
    router = APIRouter()

    @router.post("/console/test-plain-route")
    def plain(_: CsrfChecked) -> dict[str, str]:
        return {"done": "yes"}

    signed_in.app.include_router(router)
    answer = signed_in.client.post("/console/test-plain-route", data={"csrf_token": "0" * 64})
    assert answer.status_code == 403
    assert answer.headers["content-type"].startswith("text/html")
