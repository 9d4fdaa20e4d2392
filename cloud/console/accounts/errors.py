"""What the accounts' pages answer when they refuse, each with its text key and status.

AccountError
├── SignInRefused    a wrong e-mail or password, or an inactive person (the same for each: 401)
│   └── LockedOut    too many failures; try again after ``retry_after_s`` (429)
├── LinkUnusable     an invitation or reset link unknown, used or expired (410)
├── WeakPassword     the password policy refuses it (422)
└── BadInvitation    an invitation the inviter may not make (422)
"""

from __future__ import annotations


class AccountError(Exception):
    status = 400
    text = "accounts.error"

    def __init__(self, text: str | None = None) -> None:
        super().__init__(text or self.text)
        self.text = text or self.text


class SignInRefused(AccountError):
    status = 401
    text = "accounts.sign_in_refused"


class LockedOut(SignInRefused):
    status = 429
    text = "accounts.locked_out"

    def __init__(self, retry_after_s: float) -> None:
        super().__init__()
        self.retry_after_s = retry_after_s


class LinkUnusable(AccountError):
    status = 410
    text = "accounts.link_unusable"


class WeakPassword(AccountError):
    status = 422
    text = "accounts.password_short"


class BadInvitation(AccountError):
    status = 422
    text = "accounts.invite_invalid"
