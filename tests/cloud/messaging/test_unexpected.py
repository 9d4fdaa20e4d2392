"""A message whose sending fails in a way no channel foresaw (a channel's bug, a library's
unexpected exception) is tried again after the backoff and, past ``notify_max_attempts``, given
up with its code purged: it is not claimed again at every lease for ever, nor does it stop the
rest of the batch."""

from __future__ import annotations

import uuid

from nacl.public import PrivateKey

from cloud.messaging.channels import Outgoing
from cloud.messaging.dispatcher import PHONE, Dispatcher
from cloud.messaging.states import MessageKind, MessageState
from locker_contract import sealing
from tests.cloud.messaging.conftest import PRIVATE, Rig
from tests.cloud.messaging.test_dispatch import CODE, GATHER, messages


class Broken:
    name = "broken"

    def __init__(self) -> None:
        self.tries = 0

    async def send(self, message: Outgoing) -> str:
        self.tries += 1
        raise RuntimeError("a bug in the channel")


async def test_an_unexpected_failure_is_retried_then_given_up(rig: Rig) -> None:
    bank, _gateway, engine, settings, clock = rig.parts()
    settings = settings.model_copy(update={"notify_max_attempts": 2})
    bank.deposit("SF1008611", "A03", uuid.uuid4(), CODE)
    clock.advance(GATHER.total_seconds())
    channel = Broken()
    key: PrivateKey = sealing.private_key(PRIVATE)
    notifier = Dispatcher(engine, settings, key, {PHONE: channel}, clock=clock)
    assert await notifier.pass_once() == 1
    [message] = messages(engine, MessageKind.DEPOSIT)
    assert message.state is MessageState.QUEUED
    assert message.last_error == "unexpected failure (RuntimeError)"
    assert message.sealed_code is not None
    clock.advance(settings.notify_retry_cap_s + GATHER.total_seconds())
    assert await notifier.pass_once() == 1
    [message] = messages(engine, MessageKind.DEPOSIT)
    assert (message.state, message.attempts) == (MessageState.FAILED, 2)
    assert message.sealed_code is None
    clock.advance(settings.notify_lease_s + 1)
    assert await notifier.pass_once() == 0
    assert channel.tries == 2
