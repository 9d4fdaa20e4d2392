"""The alarm's transition table, and the class of each kind."""

from __future__ import annotations

import pytest

from cloud.console.alarms.classes import AlarmClass, class_of, kinds_of, persisting_cause
from cloud.lifecycles import ALARM, AlarmState
from cloud.services.errors import IllegalTransition

R, A, C = AlarmState.RAISED, AlarmState.ACKNOWLEDGED, AlarmState.CLEARED


@pytest.mark.parametrize(("current", "target"), [(R, A), (R, C), (A, C)])
def test_the_table_allows_acknowledging_and_clearing(
    current: AlarmState, target: AlarmState
) -> None:
    assert ALARM.step(current, target) is target


@pytest.mark.parametrize(("current", "target"), [(A, A), (A, R), (C, C), (C, A), (C, R), (R, R)])
def test_the_table_refuses_every_other_move(current: AlarmState, target: AlarmState) -> None:
    with pytest.raises(IllegalTransition, match=f"an? alarm cannot go from {current} to {target}"):
        ALARM.step(current, target)


def test_each_kind_has_its_class_and_an_unknown_kind_is_technical() -> None:
    assert class_of("door.forced_open") is AlarmClass.TAMPER
    assert class_of("door.left_open") is AlarmClass.TIMER
    assert class_of("door.jammed") is AlarmClass.TECHNICAL
    assert class_of("temperature_excursion") is AlarmClass.ENVIRONMENT
    assert class_of("something.new") is AlarmClass.TECHNICAL
    assert "door.forced_open" in kinds_of(AlarmClass.TAMPER)


def test_only_a_technical_alarm_has_a_persisting_cause() -> None:
    assert persisting_cause("door.jammed") == "the door has not been seen to open since it jammed"
    assert persisting_cause("something.new") == "the cloud has not seen its cause end"
    assert persisting_cause("door.forced_open") is None
    assert persisting_cause("temperature_excursion") is None
