"""The accounts' forms answer text with a control character as the console's error page (422),
never a 500: PostgreSQL takes no NUL, and an e-mail, a site or a person's id is looked up (R2)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from httpx2 import Response

from cloud.console.accounts.tables import PersonRole
from tests.cloud.console.accounts.conftest import Console

NUL = "ann\x00@example.org"
Post = Callable[[Console], Response]


def _forgot(c: Console) -> Response:
    return c.client.post("/console/forgot", data={"email": NUL, "csrf_token": c.csrf()})


def _invite(c: Console) -> Response:
    form = {"email": NUL, "name": "Ann", "role": "site_manager", "sites": ["maple"]}
    token = c.csrf("/console/people")
    return c.client.post("/console/people", data=form | {"csrf_token": token})


def _invite_to_a_site(c: Console) -> Response:
    form = {"email": "ann@example.org", "name": "Ann", "role": "site_manager", "sites": ["m\x00"]}
    token = c.csrf("/console/people")
    return c.client.post("/console/people", data=form | {"csrf_token": token})


def _turn_away(c: Console) -> Response:
    token = c.csrf("/console/people")
    form = {"active": "false", "csrf_token": token}
    return c.client.post("/console/people/a%00b/active", data=form)


@pytest.mark.parametrize("post", [_forgot, _invite, _invite_to_a_site, _turn_away])
def test_a_nul_in_an_accounts_form_is_an_error_page(console: Console, post: Post) -> None:
    console.person("olga@example.org", PersonRole.OPERATOR_ADMIN)
    assert console.sign_in("olga@example.org").status_code == 303
    answer = post(console)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("text/html")
    assert "control character" in answer.text


def test_a_nul_in_the_sign_in_form_is_an_error_page_and_no_try(console: Console) -> None:
    console.person("ann@example.org")
    assert console.sign_in(NUL).status_code == 422
    assert console.sign_in("ann@example.org").status_code == 303
