"""What the ingest worker gathers between two writes of banks' presence: the latest of each kind
per bank (a bank heartbeating 20,000 times in a second costs one row update), the command acks
in order, and the messages to acknowledge to the broker once the write has committed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Token = tuple[int, int]  # a message's id and QoS: what its broker acknowledgement names


@dataclass
class Gathered:
    beats: dict[str, tuple[bytes, float]] = field(default_factory=dict)  # payload, received
    online: dict[str, bool] = field(default_factory=dict)  # the latest word on each bank's link
    statuses: dict[str, bytes] = field(default_factory=dict)
    states: dict[str, bytes] = field(default_factory=dict)
    acks: list[tuple[str, bytes]] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)

    def heartbeat(self, bank_id: str, payload: bytes, received: float, token: Token) -> None:
        self.beats[bank_id] = (payload, received)
        self.seen(bank_id)
        self.tokens.append(token)

    def status(self, bank_id: str, payload: bytes, token: Token) -> None:
        """The Last Will (``offline``) or the bank's ``online``; decoded when written."""
        self.online.pop(bank_id, None)  # the status decides, unless something follows it
        self.statuses[bank_id] = payload
        self.tokens.append(token)

    def state(self, bank_id: str, payload: bytes, token: Token) -> None:
        self.states[bank_id] = payload
        self.seen(bank_id)
        self.tokens.append(token)

    def cmd_ack(self, bank_id: str, payload: bytes, token: Token) -> None:
        self.acks.append((bank_id, payload))
        self.seen(bank_id)
        self.tokens.append(token)

    def seen(self, bank_id: str) -> None:
        """Anything from a bank but its Last Will says its link is up."""
        self.statuses.pop(bank_id, None)
        self.online[bank_id] = True

    def __bool__(self) -> bool:
        return bool(self.tokens or self.online)
