"""Errors the flows raise, each a clear answer for the person at the kiosk.

EdgeError
├── NotAllowed        wrong or expired credentials, or a session that timed out (401)
├── WrongCode         a pickup code that opens nothing; says how many tries are left (401)
├── LockedOut         too many wrong tries: wait ``retry_after_s`` (429)
├── EntryDisabled     too many wrong tries today: a manager must re-enable (423)
├── Maintenance       the bank is in maintenance mode (503)
├── BankFull          no free compartment fits (409)
├── Conflict          the request does not fit the flow's current state (409)
│   └── IllegalTransition  an event a lifecycle's table has no row for (``lifecycles``)
├── NotFound          no such deposit, parcel or courier (404)
└── Invalid           the request itself is wrong (422)
"""

from __future__ import annotations


class EdgeError(Exception):
    status = 400

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class NotAllowed(EdgeError):
    status = 401


class BadCredentials(NotAllowed):
    pass


class WrongCode(EdgeError):
    status = 401


class LockedOut(EdgeError):
    status = 429


class EntryDisabled(EdgeError):
    status = 423


class Maintenance(EdgeError):
    status = 503


class BankFull(EdgeError):
    status = 409


class Conflict(EdgeError):
    status = 409


class IllegalTransition(Conflict):
    """``event`` is not allowed in ``state`` by the ``lifecycle``'s transition table."""

    def __init__(self, lifecycle: str, state: object, event: object) -> None:
        said = str(event).replace("_", " ")
        super().__init__(f"cannot {said} a {lifecycle} that is {state or 'idle'}")
        self.lifecycle, self.state, self.event = lifecycle, state, event


class NotFound(EdgeError):
    status = 404


class Invalid(EdgeError):
    status = 422
