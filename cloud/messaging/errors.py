"""What can go wrong sending a message, written once: a channel translates its library's
exceptions (httpx2, aiosmtplib, the file system) into these at its own boundary."""

from __future__ import annotations


class SendError(Exception):
    """A message did not go. ``reason`` is safe to log and store: no address, no text."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TryAgain(SendError):
    """The channel is down or busy (a 5xx, 429, a timeout, an SMTP 4xx): the same message, under
    the same key, goes again after a backoff."""


class Refused(SendError):
    """The channel will never take this message (a 4xx, an SMTP 5xx, a bad address): retrying
    would not help; the message fails."""
