"""Roles: what a person sees (``Person.site_ids``), the principal it acts as, who may invite
whom, and the audit log naming the person."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from cloud.console.accounts import people
from cloud.console.accounts.deps import Person, audit_person, load_person
from cloud.console.accounts.tables import Account, PersonRole
from cloud.core.db import transaction
from cloud.models import AuditEntry, Role
from cloud.services.errors import NotFound
from tests.cloud.console.accounts.conftest import Console

ADMIN = PersonRole.OPERATOR_ADMIN


def person(console: Console, person_id: str) -> Person:
    with transaction(console.engine) as s:
        found = load_person(s, person_id)
    assert found is not None
    return found


def test_an_operator_admin_sees_every_site_of_its_operator_only(console: Console) -> None:
    boss = person(console, console.person("boss@example.org", ADMIN, frozenset()))
    assert boss.site_ids == frozenset({"maple", "birch"})
    principal = boss.principal_for("birch")
    assert principal.role is Role.OPERATOR
    assert principal.operator_id == "estates"
    assert principal.key_id == f"person:{boss.id}"
    with pytest.raises(NotFound):
        boss.principal_for(console.other_site)


def test_a_site_manager_sees_the_sites_given(console: Console) -> None:
    ann = person(console, console.person("ann@example.org"))
    assert ann.site_ids == frozenset({"maple"})
    assert ann.sees("maple")
    assert not ann.sees("birch")
    principal = ann.principal_for("maple")
    assert principal.role is Role.MANAGER
    assert principal.site_id == "maple"
    for other in ("birch", console.other_site):
        with pytest.raises(NotFound):
            ann.principal_for(other)


def test_an_inactive_person_is_nobody(console: Console) -> None:
    ann_id = console.person("ann@example.org")
    assert console.sign_in("ann@example.org").status_code == 303
    with transaction(console.engine) as s:
        row = s.get(Account, ann_id)
        assert row is not None
        row.active = False
        s.add(row)
    assert console.client.get("/console/people").status_code == 303
    assert console.sign_in("ann@example.org").status_code == 401


def invite(console: Console, **form: object) -> int:
    body = {"csrf_token": console.csrf("/console/people")} | form
    return console.client.post("/console/people", data=body).status_code


def test_only_an_admin_invites_and_only_to_its_own_sites(console: Console) -> None:
    console.person("ann@example.org")
    console.sign_in("ann@example.org")
    assert console.client.get("/console/people").status_code == 403
    assert invite(console, email="x@example.org", name="X", role="operator_admin") == 403
    console.person("boss@example.org", ADMIN, frozenset())
    console.sign_in("boss@example.org")
    page = console.client.get("/console/people")
    assert page.status_code == 200
    assert "Elm" not in page.text  # the other operator's site is not offered
    other = invite(console, email="y@example.org", name="Y", role="site_manager", sites=["elm"])
    assert other == 422
    assert invite(console, email="z@example.org", name="Z", role="site_manager") == 422
    assert (
        invite(console, email="ann@example.org", name="A", role="site_manager", sites=["maple"])
        == 422
    )
    assert invite(console, email="w@example.org", name="W", role="operator_admin") == 200
    assert invite(console, email="v@example.org", name="V", role="root") == 422
    with transaction(console.engine) as s:
        emails = set(s.exec(select(Account.email)).all())
    assert emails == {"ann@example.org", "boss@example.org", "w@example.org"}


def test_the_audit_log_names_the_person(console: Console) -> None:
    boss_id = console.person("boss@example.org", ADMIN, frozenset())
    console.sign_in("boss@example.org")
    invite(console, email="new@example.org", name="Nia", role="site_manager", sites=["maple"])
    boss = person(console, boss_id)
    with transaction(console.engine) as s:
        audit_person(s, boss, "test.action", "bank:b1", phone="13800138000")
    with transaction(console.engine) as s:
        entries = s.exec(
            select(AuditEntry).where(col(AuditEntry.actor) == f"person:{boss_id}")
        ).all()
    actions = [e.action for e in entries]
    assert actions == [
        "console.password_invite",
        "console.sign_in",
        "console.invite",
        "test.action",
    ]
    assert {e.role for e in entries} == {"operator_admin"}
    assert entries[-1].detail == {"phone": "*********00"}


def set_active(console: Console, person_id: str, active: bool) -> int:
    form = {"csrf_token": console.csrf("/console/people"), "active": str(active).lower()}
    return console.client.post(f"/console/people/{person_id}/active", data=form).status_code


def test_an_admin_turns_a_leaver_away_and_back(console: Console) -> None:
    ann = console.person("ann@example.org")
    boss = console.person("boss@example.org", ADMIN, frozenset())
    with transaction(console.engine) as s:
        rival = people.create_person(
            s, people.NewPerson("r@rival.example", "R", ADMIN, "rival"), console.clock.now()
        )
    console.sign_in("ann@example.org")
    ann_session = console.client.cookies.get("console_session")
    assert set_active(console, boss, False) == 403  # a site manager may not
    console.sign_in("boss@example.org")
    assert set_active(console, boss, False) == 422  # nor oneself
    assert set_active(console, rival.id, False) == 422  # nor another operator's
    assert set_active(console, ann, False) == 200
    console.client.cookies.clear()
    console.client.cookies.set("console_session", ann_session or "")
    assert console.client.get("/console/people").status_code == 303  # signed out at once
    assert console.sign_in("ann@example.org").status_code == 401
    console.client.cookies.clear()  # the stale cookie set by hand would sit beside the new one
    assert console.sign_in("boss@example.org").status_code == 303
    assert set_active(console, ann, True) == 200
    assert console.sign_in("ann@example.org").status_code == 303
