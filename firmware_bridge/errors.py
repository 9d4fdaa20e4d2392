"""Every error the bridge raises, written once as a small tree (the httpx way).

    BridgeError
    ├── InvalidRequest        the caller asked for something the protocol cannot say
    ├── TransportError        the port could not be opened, or went away
    └── BoardError            a board did not do what was asked
        ├── BoardNoReply      no valid reply within the timeout, after the allowed retries
        ├── BoardOffline      the board is marked offline and is not due for a re-probe
        ├── UnlockNotSent     the unlock frame never left: it is safe to try again
        └── UnlockOutcomeUnknown  the unlock frame left but the door could not be read back

Line noise is never an exception: parsers count it (see ``codecs.stats.ParserStats``).
Exceptions from pyserial and the OS are translated into ``TransportError`` at one boundary,
``firmware_bridge.transport.serial``.
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every error raised by firmware_bridge."""


class InvalidRequest(BridgeError, ValueError):
    """The caller asked for a frame the protocol cannot express (bad address, lock, size)."""


class TransportError(BridgeError):
    """The byte pipe failed: the port is missing, not permitted, or closed under us."""


class BoardError(BridgeError):
    """A board on the bus did not do what was asked."""

    def __init__(self, board: int, message: str) -> None:
        super().__init__(f"board {board}: {message}")
        self.board = board


class BoardNoReply(BoardError):
    """No valid reply arrived within the timeout, after every allowed retry."""


class BoardOffline(BoardError):
    """The board failed too often in a row and its re-probe cooldown has not passed."""


class UnlockNotSent(BoardError):
    """The unlock frame was not written to the line; nothing can have moved."""


class UnlockOutcomeUnknown(BoardError):
    """The unlock frame was written but the lock could not be read back afterwards.

    The door may be open. Callers must not retry the unlock blindly: read the status first.
    """
