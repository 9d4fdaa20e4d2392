"""What every streaming parser shares: the awaited request, the receive buffer and its counters.

``StreamParser`` keeps the request whose reply is awaited and the bytes not yet framed, and counts
every byte it drops as noise. ``SelfDelimitingParser`` adds the rest for families whose awaited
request fixes the reply's length (Kerong, Modbus RTU): a reply completes on its last byte, so line
silence only ends a partial frame. Each family writes ``_next``, which frames one reply or None.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Generic, TypeVar

from firmware_bridge.codecs.stats import ParserStats

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")


class StreamParser(Generic[RequestT]):
    """The awaited request, the buffer, and the noise counter."""

    def __init__(self, expect: RequestT | None = None) -> None:
        self._expect = expect
        self._buf = bytearray()
        self.stats = ParserStats()

    def expect(self, request: RequestT | None) -> None:
        """Await the reply to ``request`` from now on (None: every byte is unsolicited noise)."""
        self._expect = request

    def reset(self) -> int:
        """Drop whatever is buffered (counted as noise) and return how many bytes that was."""
        dropped = len(self._buf)
        self._drop(dropped)
        return dropped

    def _drop(self, count: int) -> None:
        self.stats.noise_bytes += count
        del self._buf[:count]


class SelfDelimitingParser(StreamParser[RequestT], ABC, Generic[RequestT, ReplyT]):
    """A parser whose replies complete on their last byte, never on silence."""

    @property
    def awaiting_silence(self) -> bool:
        """Always False: the awaited request fixes the reply's length."""
        return False

    def end_of_burst(self) -> list[ReplyT]:
        """The line fell silent: a partial frame can no longer complete, so drop it."""
        self.reset()
        return []

    def feed(self, data: bytes) -> list[ReplyT]:
        """Add received bytes; return every reply they complete."""
        self._buf += data
        replies: list[ReplyT] = []
        while (reply := self._next()) is not None:
            replies.append(reply)
        return replies

    @abstractmethod
    def _next(self) -> ReplyT | None:
        """Frame the next reply at the buffer's head, dropping noise; None: wait for bytes."""
        ...
