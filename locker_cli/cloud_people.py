"""``locker cloud create-admin``, ``invite`` and ``reset-link``: the console's people from the
command line (decision 0022).

``create-admin`` makes the admin API key, as it always has, and, given ``--email`` and
``--operator``, the operator's first console person (an operator admin), printing a one-time
link that sets its password: there is no default password, and no password is ever given on
the command line. ``invite`` and ``reset-link`` print such links too, for development, where no
mail is sent; a link is a secret: it is printed once and stored only as a keyed hash.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from cloud.core.config import Settings

Email = Annotated[str, typer.Option("--email", help="the person's e-mail (their sign-in)")]
Name = Annotated[str, typer.Option("--name", help="the name the console shows")]
Operator = Annotated[
    str, typer.Option("--operator", help="the operator's id or name (made if no such operator)")
]


@contextlib.contextmanager
def _migrated() -> Iterator[tuple[Settings, Engine]]:
    """The settings and an engine on their database, its schema brought up to date; a refusal
    becomes one line on stderr and exit status 1."""
    from cloud.console.accounts.errors import AccountError
    from cloud.console.texts.accounts import TEXTS
    from cloud.core.migrate import upgrade
    from locker_cli.cloud import _engine

    with _engine() as (settings, engine):
        upgrade(settings.database_url)
        try:
            yield settings, engine
        except AccountError as exc:
            typer.echo(f"error: {TEXTS.get(exc.text, {}).get('en', exc.text)}", err=True)
            raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    app.command("create-admin")(create_admin)
    app.command("invite")(invite)
    app.command("reset-link")(reset_link)


def create_admin(
    label: str = typer.Option("admin", "--label"),
    email: str | None = typer.Option(None, "--email", help="also the first console person"),
    operator: str | None = typer.Option(None, "--operator", help="that person's operator"),
    name: str = typer.Option("", "--name", help="that person's name (default: the e-mail's)"),
) -> None:
    """Create an admin API key (printed once; stored only hashed) and, with --email and
    --operator, the operator's first console person, with a one-time link to set its password.
    There is no default account and no default password."""
    from cloud.services.auth import create_admin as create

    if (email is None) != (operator is None):
        typer.echo("error: give --email and --operator together", err=True)
        raise typer.Exit(2)
    with _migrated() as (settings, engine):
        typer.echo(create(engine, settings.secret_key, label))
        if email is not None and operator is not None:
            _person(settings, engine, email, name, operator, "operator_admin", [])


def invite(
    email: Email,
    operator: Operator,
    name: Name = "",
    role: Annotated[str, typer.Option("--role", help="operator_admin or site_manager")] = (
        "site_manager"
    ),
    site: Annotated[list[str] | None, typer.Option("--site", help="a site id (repeat)")] = None,
) -> None:
    """Make a console person and print their one-time set-password link (development: no
    mail is sent)."""
    with _migrated() as (settings, engine):
        _person(settings, engine, email, name, operator, role, site or [])


def reset_link(email: Email) -> None:
    """Print a one-time password reset link for a person (development: no mail is sent)."""
    from cloud.clock import SystemClock
    from cloud.console.accounts import links, people

    with _migrated() as (settings, engine):
        token = people.reset_link(engine, settings, email, SystemClock().now())
        typer.echo(links.url(settings.recipient_base_url, token))


def _person(
    settings: Settings,
    engine: Engine,
    email: str,
    name: str,
    operator: str,
    role: str,
    sites: list[str],
) -> None:
    from cloud.clock import SystemClock
    from cloud.console.accounts import links, people
    from cloud.console.accounts.tables import PersonRole

    if role not in set(PersonRole):
        typer.echo(f"error: --role is one of {', '.join(PersonRole)}", err=True)
        raise typer.Exit(2)
    operator_id = _operator(engine, operator)
    given = name.strip() or email.strip().partition("@")[0]
    new = people.NewPerson(email, given, PersonRole(role), operator_id, frozenset(sites))
    person_id, token = people.enrol(engine, settings, new, SystemClock().now())
    typer.echo(f"console person {person_id} ({role}); set the password once, within 3 days, at:")
    typer.echo(links.url(settings.recipient_base_url, token))


def _operator(engine: Engine, ref: str) -> str:
    """The operator of this id, else the one of this name, else a new one of this name."""
    from sqlmodel import select

    from cloud.core.db import transaction
    from cloud.models import Operator

    with transaction(engine) as s:
        if s.get(Operator, ref) is not None:
            return ref
        named = s.exec(select(Operator).where(Operator.name == ref)).all()
        if len(named) > 1:
            typer.echo(f"error: {len(named)} operators are named {ref!r}: give its id", err=True)
            raise typer.Exit(2)
        if named:
            return named[0].id
        made = Operator(name=ref)
        s.add(made)
        s.flush()
        typer.echo(f"operator {made.id} ({ref}) made")
        return made.id
