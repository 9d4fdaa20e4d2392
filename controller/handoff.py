"""Pickup codes shown to the depositing courier, when the bank has no notifier key to seal them.

Such a bank cannot tell the recipient their code itself; the courier who put the parcel in sees
it on the kiosk's "recorded" screen and hands it on. The code is kept in this process's memory
only, never in the store, and only for ``ttl_s`` after the recording (the courier's session
timeout): a restart, or a courier who walked away, loses it, which is the safe side (decision
0011).
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.clock import Clock


@dataclass(frozen=True)
class _Held:
    courier_id: str
    code: str
    until: float


class Handoff:
    """Codes waiting for the courier's screen, by deposit id, each for ``ttl_s``."""

    def __init__(self, ttl_s: float, clock: Clock) -> None:
        self.ttl_s = ttl_s
        self.clock = clock
        self._held: dict[str, _Held] = {}

    def hold(self, deposit_id: str, courier_id: str, code: str) -> None:
        self._forget_expired()
        self._held[deposit_id] = _Held(courier_id, code, self.clock.monotonic() + self.ttl_s)

    def show(self, deposit_id: str, courier_id: str) -> str | None:
        """The code of ``deposit_id`` for the courier who made it, while it is still held."""
        self._forget_expired()
        held = self._held.get(deposit_id)
        return held.code if held is not None and held.courier_id == courier_id else None

    def __len__(self) -> int:
        self._forget_expired()
        return len(self._held)

    def _forget_expired(self) -> None:
        now = self.clock.monotonic()
        for deposit_id in [d for d, held in self._held.items() if held.until <= now]:
            del self._held[deposit_id]
