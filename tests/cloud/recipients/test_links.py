"""Recipient links: signed over the group and the expiry, refused when altered or late."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from cloud.core.config import Settings
from cloud.recipients.links import (
    TOKEN_CHARS,
    LinkExpired,
    LinkRefused,
    make_token,
    read_token,
    recipient_link,
)
from tests.cloud.conftest import secret

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GROUP = str(uuid.UUID(int=0x1234))


def test_a_link_opens_its_group_until_it_expires() -> None:
    key = secret()
    token = make_token(key, GROUP, NOW + timedelta(hours=1))
    assert len(token) == TOKEN_CHARS
    assert read_token(key, token, NOW).group_id == GROUP
    with pytest.raises(LinkExpired):
        read_token(key, token, NOW + timedelta(hours=1))


def test_every_altered_byte_is_refused() -> None:
    key = secret()
    raw = bytearray(base64.urlsafe_b64decode(make_token(key, GROUP, NOW) + "=="))
    for i in range(len(raw)):
        forged = bytearray(raw)
        forged[i] ^= 1
        token = base64.urlsafe_b64encode(bytes(forged)).decode().rstrip("=")
        with pytest.raises(LinkRefused):
            read_token(key, token, NOW - timedelta(days=1))


@pytest.mark.parametrize("token", ["", "x" * TOKEN_CHARS, "é" * TOKEN_CHARS, "a" * 500, "=" * 54])
def test_garbage_is_refused_not_a_crash(token: str) -> None:
    with pytest.raises(LinkRefused):
        read_token(secret(), token, NOW)


def test_another_clouds_link_is_refused() -> None:
    with pytest.raises(LinkRefused):
        read_token(secret(), make_token(secret(), GROUP, NOW + timedelta(days=1)), NOW)


def test_the_code_rides_in_the_fragment_only() -> None:
    settings = Settings(secret_key=secret(), recipient_base_url="https://lockers.example.cn/")
    link = recipient_link(settings, GROUP, NOW, code="12345678")
    path, _, fragment = link.partition("#")
    assert path.startswith("https://lockers.example.cn/r/")
    assert fragment == "12345678"
    assert "12345678" not in path
    assert "#" not in recipient_link(settings, GROUP, NOW)
