"""Invitations and resets by one-time link: mailed sealed, used once, before their expiry;
a reset asked for any address gets the same answer."""

from __future__ import annotations

import re

from sqlmodel import select

from cloud.console.accounts import links, people
from cloud.console.accounts.mail import with_link
from cloud.console.accounts.tables import Account, LinkPurpose, PersonRole, StaffMail
from cloud.core.db import transaction
from locker_contract import sealing
from tests.cloud.console.accounts.conftest import PASSWORD, Console

NEW_PASSWORD = "a long and quite new sentence"
TOKEN = re.compile(r"/console/password#([A-Za-z0-9_-]+)")


def mailed_link(console: Console, email: str) -> str:
    """The token of the newest mail to ``email``, opened with the notifier's key."""
    key = sealing.private_key(console.notify_private)
    with transaction(console.engine) as s:
        person = s.exec(select(Account).where(Account.email == email)).one()
        mails = s.exec(select(StaffMail).where(StaffMail.person_id == person.id)).all()
    mail = max(mails, key=lambda m: m.created_at)
    assert mail.sealed_link
    body = with_link(mail.body, sealing.open_code(key, mail.sealed_link))
    found = TOKEN.search(body)
    assert found, body
    return found.group(1)


def set_password(console: Console, token: str, password: str = NEW_PASSWORD) -> int:
    form = {"csrf_token": console.csrf("/console/password"), "token": token}
    answer = console.client.post(
        "/console/password", data=form | {"password": password, "again": password}
    )
    return answer.status_code


def invite(console: Console, **form: object) -> str:
    body = {"csrf_token": console.csrf("/console/people")} | form
    answer = console.client.post("/console/people", data=body)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_an_invitation_sets_a_password_once(console: Console) -> None:
    console.person("boss@example.org", role=PersonRole.OPERATOR_ADMIN, sites=frozenset())
    console.sign_in("boss@example.org")
    page = invite(
        console, email="New@Example.org", name="Nia", role="site_manager", sites=["maple", "birch"]
    )
    assert "new@example.org" in page
    token = mailed_link(console, "new@example.org")
    console.client.cookies.clear()
    assert set_password(console, token) == 303
    assert set_password(console, token, "another long sentence here") == 410
    assert console.sign_in("new@example.org", NEW_PASSWORD).status_code == 303
    assert console.sign_in("new@example.org", "another long sentence here").status_code == 401


def test_a_link_expires(console: Console) -> None:
    console.person("ann@example.org")
    console.clock.advance(1)
    with transaction(console.engine) as s:
        person_id = console.made["ann@example.org"]
        token = links.issue(
            s, console.settings.secret_key, person_id, LinkPurpose.RESET, console.clock.now()
        )
    console.clock.advance(links.LIFETIMES[LinkPurpose.RESET].total_seconds() + 1)
    assert set_password(console, token) == 410
    assert console.sign_in("ann@example.org").status_code == 303  # the old password stands


def test_the_password_policy(console: Console) -> None:
    console.person("ann@example.org")
    console.client.post(
        "/console/forgot",
        data={"csrf_token": console.csrf("/console/forgot"), "email": "ann@example.org"},
    )
    token = mailed_link(console, "ann@example.org")
    assert set_password(console, token, "short one") == 422
    assert set_password(console, token, "password1234") == 422
    assert set_password(console, token, "x" * 300) == 422
    assert set_password(console, token, "no digits or capitals needed") == 303


def test_a_reset_answers_the_same_for_anyone_and_ends_every_session(console: Console) -> None:
    console.person("ann@example.org")
    assert console.sign_in("ann@example.org").status_code == 303
    session = console.client.cookies.get("console_session")
    answers = []
    for email in ("ann@example.org", "nobody@example.org", "not an address"):
        form = {"csrf_token": console.csrf("/console/forgot"), "email": email}
        answers.append(console.client.post("/console/forgot", data=form))
    assert {a.status_code for a in answers} == {200}
    assert len({a.text for a in answers}) == 1
    with transaction(console.engine) as s:
        assert len(s.exec(select(StaffMail)).all()) == 1  # only Ann's
    token = mailed_link(console, "ann@example.org")
    assert set_password(console, token) == 303
    console.client.cookies.clear()
    console.client.cookies.set("console_session", session or "")
    assert console.client.get("/console/people").status_code == 303  # signed out everywhere
    assert console.sign_in("ann@example.org", PASSWORD).status_code == 401


def test_a_second_link_voids_the_first(console: Console) -> None:
    console.person("ann@example.org")
    for _ in range(2):
        form = {"csrf_token": console.csrf("/console/forgot"), "email": "ann@example.org"}
        console.client.post("/console/forgot", data=form)
        console.clock.advance(people.RESET_EVERY.total_seconds() + 1)
    key = sealing.private_key(console.notify_private)
    with transaction(console.engine) as s:
        mails = sorted(s.exec(select(StaffMail)).all(), key=lambda m: m.created_at)
    first = TOKEN.search(sealing.open_code(key, mails[0].sealed_link or ""))
    assert first
    assert set_password(console, first.group(1)) == 410
    assert set_password(console, mailed_link(console, "ann@example.org")) == 303


def test_resets_asked_again_and_again_mail_one_link_per_while(console: Console) -> None:
    """Anyone may ask for anyone's reset: a stranger asking in a loop neither floods the
    person's mailbox nor voids the link the person is using (R2)."""
    console.person("ann@example.org")
    for _ in range(5):
        form = {"csrf_token": console.csrf("/console/forgot"), "email": "ann@example.org"}
        assert console.client.post("/console/forgot", data=form).status_code == 200
        console.clock.advance(10)
    with transaction(console.engine) as s:
        assert len(s.exec(select(StaffMail)).all()) == 1
    token = mailed_link(console, "ann@example.org")
    console.clock.advance(people.RESET_EVERY.total_seconds())
    form = {"csrf_token": console.csrf("/console/forgot"), "email": "ann@example.org"}
    console.client.post("/console/forgot", data=form)
    with transaction(console.engine) as s:
        assert len(s.exec(select(StaffMail)).all()) == 2
    assert set_password(console, token) == 410  # the newer link voids it, as before
