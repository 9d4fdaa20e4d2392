"""The HTTP path: clients reserving through ``POST /api/v1/reservations``."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import httpx2

from benchmarks.allocation.config import (
    CARRIERS,
    CLIENTS,
    HTTP_BANK,
    HTTP_CREATED,
    HTTP_OK,
    REQUEST_TIMEOUT_S,
    SIZE,
)
from benchmarks.allocation.fleet import bearer
from benchmarks.allocation.server import Server
from benchmarks.common import BenchmarkError, tail


@dataclass(frozen=True, slots=True)
class Wave:
    """One path filling its bank: each reservation's latency and the wall-clock time."""

    latencies: list[float]
    wall: float


async def http_wave(server: Server, keys: dict[str, str], count: int) -> Wave:
    """``count`` reservations through the API by ``CLIENTS`` concurrent clients."""
    tickets = iter(range(count))
    latencies: list[float] = []
    refused: list[str] = []
    body = {"bank_id": HTTP_BANK, "size": SIZE.value}
    limits = httpx2.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)

    async def client_loop(client: httpx2.AsyncClient) -> None:
        for n in tickets:
            headers = bearer(keys[CARRIERS[n % len(CARRIERS)]])
            started = time.perf_counter()
            answer = await client.post("/api/v1/reservations", json=body, headers=headers)
            latencies.append(time.perf_counter() - started)
            if answer.status_code != HTTP_CREATED:
                refused.append(f"{answer.status_code} {answer.text[:200]}")

    async with httpx2.AsyncClient(
        base_url=server.url, limits=limits, timeout=REQUEST_TIMEOUT_S
    ) as client:
        # Warm-up, untimed: every client's connection open and every worker's pool in use.
        warm = [
            client.get("/api/v1/banks", headers=bearer(keys[CARRIERS[n % len(CARRIERS)]]))
            for n in range(2 * CLIENTS)
        ]
        if any(a.status_code != HTTP_OK for a in await asyncio.gather(*warm)):
            raise BenchmarkError("GET /api/v1/banks failed during the warm-up")
        started = time.perf_counter()
        try:
            await asyncio.gather(*(client_loop(client) for _ in range(CLIENTS)))
        except httpx2.TransportError as exc:
            raise BenchmarkError(f"a reservation request failed: {exc!r}") from exc
        wall = time.perf_counter() - started
    if refused:
        raise BenchmarkError(
            f"{len(refused)} of {count} reservations refused, e.g. {refused[0]}; "
            f"server log: {tail(server.log)}"
        )
    return Wave(latencies, wall)
