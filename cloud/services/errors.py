"""Errors the services raise, each with the HTTP status the API answers with.

CloudError
├── Unauthorized   no valid API key (401)
├── Forbidden      a valid key whose role may not do this (403)
├── NotFound       no such resource for this caller (404), whether absent or another tenant's
├── Conflict       the request contradicts current state or policy (409)
│   └── IllegalTransition  a lifecycle's table does not allow the move (cloud/lifecycles.py)
├── Invalid        the request itself is wrong (422)
└── RateLimited    too many requests for this key (429)
"""

from __future__ import annotations


class CloudError(Exception):
    status = 400

    def __init__(self, message: str, **detail: object) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail


class Unauthorized(CloudError):
    status = 401


class Forbidden(CloudError):
    status = 403


class NotFound(CloudError):
    status = 404


class Conflict(CloudError):
    status = 409


class IllegalTransition(Conflict):
    """A state change its lifecycle's transition table does not list."""


class Invalid(CloudError):
    status = 422


class RateLimited(CloudError):
    status = 429
