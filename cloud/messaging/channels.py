"""Channels behind one interface: what the dispatcher hands each one, and the development
channel, which writes each message to a file of a local outbox directory.

Every channel sends under the message's key and is safe to be given one message twice (the
dispatcher sends at least once): the SMS gateway receives the key as ``Idempotency-Key``,
e-mail carries it in its ``Message-ID``, the outbox names the file after it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cloud.messaging.errors import TryAgain

PRIVATE = 0o600  # a development message holds a plain code: its owner's alone


@dataclass(frozen=True)
class Outgoing:
    """One rendered message in flight. ``body`` holds the opened code: it is never logged,
    stored or kept after the send."""

    key: str  # the notification's id: a repeat is recognised by it
    to: str  # a phone number or an e-mail address
    subject: str
    body: str


class Channel(Protocol):
    name: str

    async def send(self, message: Outgoing) -> str:
        """Hand the message over; the channel's own id for it. Raises ``TryAgain`` or
        ``Refused`` (``cloud.messaging.errors``)."""
        ...


class OutboxChannel:
    """Development: ``<dir>/<key>.txt``, written whole (a temporary file renamed), so that a
    repeat replaces the message rather than adding one. For ``make demo`` and local work only:
    the file holds the code in plain, and the notifier refuses it unless asked for by name.
    Only its owner may read it (the folder 0700, each file 0600)."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: Outgoing) -> str:
        path = self.folder / f"{message.key}.txt"
        text = f"To: {message.to}\nSubject: {message.subject}\n\n{message.body}\n"
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            partial = path.with_suffix(".part")
            handle = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
            try:
                os.write(handle, text.encode("utf-8"))
            finally:
                os.close(handle)
            os.replace(partial, path)
        except OSError as exc:
            raise TryAgain(f"outbox {self.folder}: {exc.strerror}") from None
        return path.name


def read_outbox(folder: Path) -> list[str]:
    """The messages in a development outbox, oldest first."""
    files = sorted(folder.glob("*.txt"), key=lambda p: p.stat().st_mtime_ns)
    return [p.read_text(encoding="utf-8") for p in files]
