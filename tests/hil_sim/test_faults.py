"""The --faults language."""

from __future__ import annotations

import pytest

from hil_sim import Simulator
from hil_sim.door import DoorState
from hil_sim.faults import Fault, FaultSpecError, parse_faults


def test_parse_every_kind() -> None:
    spec = (
        "no-reply@2, unplugged@3,garbage@1=0.3,bit-errors=0.001,slow@1=0.4,jammed@1/3,forced@1/4=10"
    )
    assert parse_faults(spec) == [
        Fault("no-reply", 2, None, 1.0),
        Fault("unplugged", 3, None, 1.0),
        Fault("garbage", 1, None, 0.3),
        Fault("bit-errors", None, None, 0.001),
        Fault("slow", 1, None, 0.4),
        Fault("jammed", 1, 3, 1.0),
        Fault("forced", 1, 4, 10.0),
    ]
    assert parse_faults("") == []


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("melted@1", "unknown fault 'melted'"),
        ("jammed@1", "needs a door"),
        ("garbage=lots", "not a number"),
        ("no reply", "cannot read fault"),
    ],
)
def test_bad_specs_say_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(FaultSpecError, match=message):
        parse_faults(spec)


def test_faults_reach_the_boards_and_doors() -> None:
    sim = Simulator(
        "xor8a", [1, 2], 8, faults="slow=0.2,no-reply@2,wont-close@1/2,forced@1/3=0", close_after=1
    )
    assert sim.faults(1).slow == sim.faults(2).slow == 0.2
    assert sim.faults(2).no_reply
    assert not sim.faults(1).no_reply
    assert sim.door(1, 2).wont_close
    assert sim.door(1, 3).state is DoorState.OPEN
