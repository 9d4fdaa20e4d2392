"""``locker cloud notify``: the notifier, a process of its own (several can run side by side:
each claims different messages)."""

from __future__ import annotations

import typer


def notify(
    once: bool = typer.Option(False, "--once", help="One pass over what is due, then exit."),
) -> None:
    """Send recipients' messages (pickup codes, reminders, expiry notices): due messages
    claimed, their codes opened with the notifier's private key
    (LOCKER_CLOUD_NOTIFY_PRIVATE_KEY_FILE), sent by SMS gateway (or the development outbox)
    and SMTP, retried with backoff through outages (decision 0016)."""
    import asyncio
    import contextlib
    import logging
    import signal

    from cloud.clock import SystemClock
    from cloud.core.db import make_engine
    from cloud.messaging.dispatcher import Dispatcher
    from cloud.messaging.setup import NotSetUp, channels
    from cloud.messaging.sms import SmsGateway
    from cloud.services.errors import Conflict
    from cloud.services.notices import notify_private_key
    from locker_cli.cloud import _settings

    settings = _settings()
    try:
        key = notify_private_key(settings.notify_private_key_file)
        made = channels(settings)
    except (Conflict, NotSetUp) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a daemon says what it does
    engine = make_engine(settings.database_url)
    dispatcher = Dispatcher(engine, settings, key, made, clock=SystemClock())

    async def run() -> None:
        if once:
            typer.echo(f"claimed {await dispatcher.pass_once()} message(s)")
            return
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        typer.echo("notifier running (Ctrl-C or SIGTERM stops it)")
        await dispatcher.run(stop)

    async def run_and_close() -> None:
        try:
            await run()
        finally:
            for channel in made.values():
                if isinstance(channel, SmsGateway):
                    await channel.close()

    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run_and_close())
    finally:
        engine.dispose()
