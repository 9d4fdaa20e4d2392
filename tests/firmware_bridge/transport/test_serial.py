"""Real serial transports: device paths (a pseudo-terminal), socket:// URLs and clear errors."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from firmware_bridge.bus import BusMaster, UnlockOutcome
from firmware_bridge.errors import TransportError
from firmware_bridge.families import family_named
from firmware_bridge.model import BoardConfig
from firmware_bridge.transport.serial import open_serial
from hil_sim import Simulator
from hil_sim.bus import SimBus
from tests.waiting import DEADLINE_S

pytestmark = pytest.mark.pty


async def test_device_path_through_a_stable_link(tmp_path: os.PathLike[str]) -> None:
    with Simulator("xor8a", [1], close_after=None) as sim:
        link = os.path.join(tmp_path, "usb-FTDI_FT232R-if00-port0")
        os.symlink(sim.path, link)
        transport = await open_serial(link, 9600)
        try:
            bus = BusMaster(transport, family_named("xor8a"), [BoardConfig(1)])
            assert (await bus.open_lock(1, 2)).outcome is UnlockOutcome.OPENED
        finally:
            await transport.close()


async def test_socket_url_reaches_a_board_behind_tcp() -> None:
    sim = Simulator("kerong-cu16", [0], close_after=None)
    bus_model: SimBus = sim.bus
    closed = asyncio.Event()

    async def board_server(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(64):
                for tx in bus_model.receive(data, time.perf_counter()):
                    await asyncio.sleep(max(0.0, tx.at - time.perf_counter()))
                    writer.write(tx.data)
        finally:
            writer.close()
            await writer.wait_closed()
            closed.set()

    server = await asyncio.start_server(board_server, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        transport = await open_serial(f"socket://127.0.0.1:{port}", 19200)
        try:
            bus = BusMaster(transport, family_named("kerong-cu16"), [BoardConfig(0)])
            assert (await bus.open_lock(0, 9)).outcome is UnlockOutcome.OPENED
        finally:
            await transport.close()
        # the board server has seen the hang-up and closed its end: nothing left open
        await asyncio.wait_for(closed.wait(), DEADLINE_S)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("/dev/does-not-exist-ttyUSB9", "cannot open"),
        ("loop://", "no file descriptor"),
        ("socket://127.0.0.1:1", "cannot open"),
    ],
)
async def test_unopenable_ports_say_why(url: str, reason: str) -> None:
    with pytest.raises(TransportError, match=reason):
        await open_serial(url, 9600)


async def test_writing_to_a_closed_port_is_a_transport_error() -> None:
    with Simulator("xor8a", [1]) as sim:
        transport = await open_serial(sim.path, 9600)
        await transport.close()
        with pytest.raises(TransportError):
            await transport.write(b"\x80")
