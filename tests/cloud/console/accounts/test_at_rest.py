"""Nothing secret of the accounts is in the database as itself: not a password, not a session
token, not a CSRF token, not a one-time link or its token (a person's e-mail is not a secret)."""

from __future__ import annotations

import re

from sqlalchemy import text
from sqlmodel import select

from cloud.console.accounts.tables import PersonRole, StaffMail
from cloud.core.db import transaction
from cloud.schema import METADATA
from locker_contract import sealing
from tests.cloud.console.accounts.conftest import PASSWORD, Console

LINK = re.compile(r"https://testserver/console/password#([A-Za-z0-9_-]+)")


def everything(console: Console) -> str:
    """Every row of every table, as text."""
    with console.engine.connect() as connection:
        rows = [
            repr(tuple(row))
            for table in METADATA.sorted_tables
            for row in connection.execute(text(f'SELECT * FROM "{table.name}"'))
        ]
    return "\n".join(rows)


def test_no_secret_of_the_accounts_is_stored_in_plain(console: Console) -> None:
    console.person("boss@example.org", PersonRole.OPERATOR_ADMIN, frozenset())
    console.sign_in("boss@example.org")
    session = console.client.cookies.get("console_session")
    csrf = console.csrf("/console/people")
    form = {"email": "nia@example.org", "name": "Nia", "role": "site_manager", "sites": "maple"}
    console.client.post("/console/people", data=form | {"csrf_token": csrf})  # mailed, sealed
    mailed = LINK.search(mailed_body(console))
    console.settings.notify_public_key = None  # development: the link is shown, not mailed
    form |= {"email": "ole@example.org", "csrf_token": csrf}
    shown = LINK.search(console.client.post("/console/people", data=form).text)
    assert session
    assert mailed
    assert shown
    stored = everything(console)
    assert "boss@example.org" in stored  # the dump holds the accounts' rows
    for secret in (PASSWORD, session, csrf, *mailed.group(0, 1), *shown.group(0, 1)):
        assert secret not in stored


def mailed_body(console: Console) -> str:
    key = sealing.private_key(console.notify_private)
    with transaction(console.engine) as s:
        (mail,) = s.exec(select(StaffMail)).all()
    assert mail.sealed_link
    return sealing.open_code(key, mail.sealed_link)
