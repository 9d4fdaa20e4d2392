"""The supervisor's own sockets (``cloud.core.server.reuse_port_sockets``)."""

from __future__ import annotations

import pytest

from cloud.core.server import reuse_port_sockets


def test_a_port_another_server_listens_on_is_refused() -> None:
    """Found in review: with SO_REUSEPORT a second ``serve`` on the same port joined the
    first's group, the kernel splitting connections between the two servers, instead of
    failing as a port in use."""
    (other,) = reuse_port_sockets("127.0.0.1", 0, 1)
    with other:
        other.listen()
        with pytest.raises(OSError, match="in use"):
            reuse_port_sockets("127.0.0.1", other.getsockname()[1], 2)


def test_port_zero_gives_every_worker_the_same_port() -> None:
    sockets = reuse_port_sockets("127.0.0.1", 0, 3)
    try:
        assert len({s.getsockname()[1] for s in sockets}) == 1
    finally:
        for s in sockets:
            s.close()
