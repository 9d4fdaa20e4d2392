"""What the contract refuses: a topic or a message that is not ours."""

from __future__ import annotations


class ContractError(ValueError):
    """A message or topic that does not follow the contract."""


class BadTopic(ContractError):
    pass


class BadMessage(ContractError):
    pass
