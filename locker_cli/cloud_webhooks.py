"""``locker cloud webhooks``: the carriers' webhook sender, a process of its own (several can
run side by side: each claims different deliveries)."""

from __future__ import annotations

import typer


def webhooks(
    once: bool = typer.Option(False, "--once", help="One round of work, then exit."),
) -> None:
    """Send carriers' signed webhooks: due deliveries claimed, sent, retried with backoff for
    72 h, then dead-lettered (replay them through the API).

    Targets on private, loopback or link-local addresses are refused unless their networks are
    in ``LOCKER_CLOUD_WEBHOOK_ALLOW`` (a JSON list, e.g. ``'["10.20.0.0/16"]'``)."""
    import contextlib
    import logging
    import signal
    import threading

    from cloud.core.config import Settings
    from cloud.core.db import make_engine
    from cloud.webhooks.config import WebhookSettings
    from cloud.webhooks.targets import networks
    from cloud.webhooks.worker import Worker

    try:
        settings, options = Settings(), WebhookSettings()
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    root = logging.getLogger()
    root.setLevel(min(root.level, logging.INFO))  # a daemon says what it does
    engine = make_engine(settings.database_url)
    worker = Worker(engine, settings.secret_key, networks(options.allow))
    if once:
        typer.echo(f"attempted {worker.step()} deliveries")
        worker.close()
        engine.dispose()
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo("webhook sender running (Ctrl-C or SIGTERM stops it)")
    with contextlib.suppress(KeyboardInterrupt):
        worker.run(stop, options.poll_s)
    engine.dispose()
