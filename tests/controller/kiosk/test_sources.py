"""The throttle's source is the connection's peer address as the daemon's uvicorn sees it: no
header a client writes (X-Forwarded-For, Forwarded) moves it, not even from the loopback."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from controller.store import Throttle
from tests.controller.kiosk.conftest import Kiosk, serve_kiosk


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Kiosk]:
    yield from serve_kiosk(tmp_path)


def test_a_forwarded_header_does_not_move_a_request_to_another_source(served: Kiosk) -> None:
    forged = {"X-Forwarded-For": "192.168.1.66", "Forwarded": "for=192.168.1.66",
              "Content-Type": "application/json"}  # fmt: skip
    body = json.dumps({"code": "0000 0000"}).encode()
    for _ in range(2):
        request = urllib.request.Request(f"{served.url}/api/pickup", body, forged, method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401
        refused.value.close()
    with Session(served.edge.engine) as s:
        rows = {row.scope: row.day_failures for row in s.exec(select(Throttle))}
    assert rows == {"code:terminal": 2, "code:kiosk": 2}
