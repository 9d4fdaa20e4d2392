"""Fault specifications: the ``--faults`` language of ``locker sim`` and its parser.

A spec is a comma-separated list of items ``kind[@board[/lock]][=value]``:

    no-reply@2          board 2 acts on commands but never answers
    unplugged@2         board 2 is unpowered
    garbage@1=0.3       30% of board 1's replies start with junk bytes (value defaults to 1)
    bit-errors=0.001    every board's replies flip each bit with probability 0.001
    slow@1=0.4          board 1 answers 0.4 s late
    jammed@1/3          lock 3 of board 1 does not release when pulsed
    wont-close@1/5      door 5 of board 1 does not latch when pushed shut
    forced@1/4=10       door 4 of board 1 is forced open 10 simulated seconds after start
    sensor-silent@10    the Modbus temperature transmitter at address 10 stops answering
    sensor-garbage@10=0.5   half its replies are garbled on the line
    sensor-probe@10     its probe is broken: it answers a value no probe can measure
    compressor-failure@10   the compressor of the zone sensor 10 measures stops (=0 repairs)

A board-level fault without ``@board`` applies to every board.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

BOARD_FAULTS = {"no-reply", "unplugged", "garbage", "bit-errors", "slow"}
DOOR_FAULTS = {"jammed", "wont-close", "forced"}
SENSOR_FAULTS = {"sensor-silent", "sensor-garbage", "sensor-probe", "compressor-failure"}

_ITEM = re.compile(r"^(?P<kind>[a-z-]+)(?:@(?P<board>\d+)(?:/(?P<lock>\d+))?)?(?:=(?P<value>.+))?$")


class FaultSpecError(ValueError):
    """A ``--faults`` item that does not parse; the message names it."""


@dataclass(frozen=True, slots=True)
class Fault:
    kind: str
    board: int | None
    lock: int | None
    value: float


def parse_faults(spec: str) -> list[Fault]:
    """Parse a fault spec; raise ``FaultSpecError`` naming the first bad item."""
    return [_parse_item(item.strip()) for item in spec.split(",") if item.strip()]


def _parse_item(item: str) -> Fault:
    match = _ITEM.match(item)
    if match is None:
        raise FaultSpecError(f"cannot read fault {item!r}; expected kind[@board[/lock]][=value]")
    kind = match["kind"]
    board = int(match["board"]) if match["board"] else None
    lock = int(match["lock"]) if match["lock"] else None
    if kind not in BOARD_FAULTS | DOOR_FAULTS | SENSOR_FAULTS:
        known = ", ".join(sorted(BOARD_FAULTS | DOOR_FAULTS | SENSOR_FAULTS))
        raise FaultSpecError(f"unknown fault {kind!r} in {item!r}; known: {known}")
    if kind in DOOR_FAULTS and (board is None or lock is None):
        raise FaultSpecError(f"{kind!r} needs a door: {kind}@BOARD/LOCK")
    if kind in SENSOR_FAULTS and (board is None or lock is not None):
        raise FaultSpecError(f"{kind!r} needs a sensor: {kind}@ADDRESS")
    try:
        value = float(match["value"]) if match["value"] else 1.0
    except ValueError:
        raise FaultSpecError(f"value of {item!r} is not a number") from None
    return Fault(kind, board, lock, value)
