"""The notifier's loop (``locker cloud notify``): claim due messages, make each ready, send it
through its channel, record what became of it; retry through outages with backoff and jitter.
Several dispatchers may run against one database (``claims``). Logs name a message by its id
and its masked address, never its text or code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Mapping
from datetime import timedelta

from nacl.public import PrivateKey
from sqlalchemy import Engine

from cloud.clock import Clock
from cloud.console.accounts.mail_sending import send_staff_mail
from cloud.console.alarms import escalation
from cloud.core.config import Settings
from cloud.messaging import claims
from cloud.messaging.channels import Channel
from cloud.messaging.claims import Claim
from cloud.messaging.compose import Later, Policy, Ready, prepare
from cloud.messaging.errors import Refused, SendError, TryAgain
from cloud.messaging.schedule import Backoff
from cloud.services.errors import Conflict
from cloud.services.personal_data import mask_phone

log = logging.getLogger(__name__)

PHONE, EMAIL = "phone", "email"  # the channels' roles: a message goes by e-mail if it has one


def masked(address: str) -> str:
    """A phone as ``*********00``; an e-mail address as its domain only."""
    if "@" in address:
        return "***@" + address.rpartition("@")[2]
    return mask_phone(address)


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        key: PrivateKey,
        channels: Mapping[str, Channel],
        *,
        clock: Clock,
        rng: random.Random | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.key = key
        self.channels = channels
        self.clock = clock
        self.rng = rng or random.Random()
        self.policy = Policy.of(settings)
        self.backoff = Backoff(settings.notify_retry_base_s, settings.notify_retry_cap_s)

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop`` is set: a pass, then a poll's wait when there was nothing to do."""
        while not stop.is_set():
            if await self._pass_logged() == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.notify_poll_s)

    async def _pass_logged(self) -> int:
        """A pass; a failure of the database (or a bug) is logged and the loop goes on: what was
        claimed is taken again when its lease ends."""
        try:
            return await self.pass_once()
        except Exception:
            log.exception("a notifier pass failed; next pass after the poll interval")
            return 0

    async def pass_once(self) -> int:
        """Claim what is due now and send it; how many were claimed."""
        settings, now = self.settings, self.clock.now()
        lease = timedelta(seconds=settings.notify_lease_s)
        gather = timedelta(seconds=settings.notify_coalesce_s)
        taken = await asyncio.to_thread(
            claims.claim, self.engine, now, lease, gather, settings.notify_batch
        )
        await asyncio.gather(*(self.deliver(claim) for claim in taken))  # the batch at once
        # hook: alarms nobody acknowledged in time, escalated once by staff mail (decision 0023)
        after = settings.alarm_escalate_after_s
        await asyncio.to_thread(escalation.escalate_logged, self.engine, now, after)
        # hook: the console's staff mail (invitations, resets, escalations; decision 0022)
        staff = await send_staff_mail(self, self.channels.get(EMAIL))
        return len(taken) + staff

    async def deliver(self, claim: Claim) -> None:
        """Make the claimed message and send it; a failure nothing foresaw (a bug) is a try
        like any other: again after the backoff, given up past the last."""
        try:
            await self._deliver(claim)
        except Exception as exc:
            log.exception("message %s: unexpected failure", claim.id)
            failure = TryAgain(f"unexpected failure ({type(exc).__name__})")
            await self._retry(claim, failure, "its address")

    async def _deliver(self, claim: Claim) -> None:
        try:
            ready = await asyncio.to_thread(
                prepare, self.engine, claim.id, self.key, self.policy, self.clock.now()
            )
        except Conflict as exc:  # a sealed box this key cannot open
            await asyncio.to_thread(claims.failed, self.engine, claim, exc.message)
            log.error("message %s cannot be made: %s", claim.id, exc.message)
            return
        if isinstance(ready, Later):
            await asyncio.to_thread(claims.later, self.engine, claim, ready.at)
            log.info("message %s waits for the end of quiet hours", claim.id)
            return
        if isinstance(ready, str):
            await asyncio.to_thread(claims.cancelled, self.engine, claim, ready)
            log.info("message %s cancelled: %s", claim.id, ready)
            return
        await self._send(claim, ready)

    async def _send(self, claim: Claim, ready: Ready) -> None:
        channel = self.channels.get(EMAIL if ready.email else PHONE)
        where = masked(ready.outgoing.to)
        if channel is None:
            await self._give_up(claim, Refused("no channel for its address"), where)
            return
        try:
            ref = await channel.send(ready.outgoing)
        except Refused as exc:
            await self._give_up(claim, exc, where)
        except SendError as exc:
            await self._retry(claim, exc, where)
        else:
            now = self.clock.now()
            await asyncio.to_thread(claims.sent, self.engine, claim, ref, now, ready.then)
            log.info("message %s sent to %s by %s", claim.id, where, channel.name)

    async def _retry(self, claim: Claim, exc: SendError, where: str) -> None:
        if claim.attempt >= self.settings.notify_max_attempts:
            await self._give_up(claim, exc, where)
            return
        at = self.clock.now() + self.backoff.delay(claim.attempt, self.rng)
        await asyncio.to_thread(claims.retry, self.engine, claim, at, exc.reason)
        when = at.isoformat(timespec="seconds")
        log.warning("message %s to %s: %s; tried again at %s", claim.id, where, exc.reason, when)

    async def _give_up(self, claim: Claim, exc: SendError, where: str) -> None:
        await asyncio.to_thread(claims.failed, self.engine, claim, exc.reason)
        log.error("message %s to %s failed: %s", claim.id, where, exc.reason)
