"""What a recipient does on their page reaches a bank that was offline for days: a revoked
second code must stop opening its doors whenever the bank comes back, and a refusal of lockers
must reach it. Their commands outlive a parcel's longest stay, not the default day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.recipients import consent, service
from cloud.services import commands
from tests.cloud.recipients.conftest import Group


def test_a_bank_back_after_days_offline_gets_the_recipients_commands(group: Group) -> None:
    engine, settings, now = group.engine, group.cloud.settings, datetime.now(UTC)
    share_id = service.share(engine, settings, group.group_id, now)
    service.unshare(engine, group.group_id, share_id, now)
    service.extend(engine, group.group_id, now)
    consent.choose(engine, settings, group.group_id, consent.Choice.REFUSE, now)
    back = now + timedelta(days=3)  # the bank was offline for three days
    sent = commands.due(engine, 60.0, back, secret_key=settings.secret_key)
    types = {d.envelope.command.type for d in sent}
    assert {"group.share", "group.unshare", "group.extend", "recipient.refusal"} <= types
