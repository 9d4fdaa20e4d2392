"""Every edge lifecycle is one table: each legal transition is reachable from the initial state,
each illegal one raises ``IllegalTransition``, and the store keeps the states as their strings."""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from itertools import product
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from controller.errors import Conflict, IllegalTransition
from controller.lifecycles import (
    DEPOSIT,
    DOOR,
    INTENT,
    LIFECYCLES,
    PARCEL,
    PICKUP,
    DepositEvent,
    DepositState,
    DoorState,
    IntentState,
    Lifecycle,
    OpenedFor,
    ParcelState,
    UnlockFlow,
)
from controller.store import Compartment, Deposit, Intent, Parcel, open_store, transaction

Any_ = Lifecycle[Any, Any]


def reachable(lifecycle: Any_) -> set[object]:
    seen, todo = {lifecycle.initial}, deque([lifecycle.initial])
    while todo:
        for nxt in lifecycle.table.get(todo.popleft(), {}).values():
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.name)
def test_every_legal_transition_is_reachable_and_lands_in_a_state(lifecycle: Any_) -> None:
    states = set(lifecycle.states)
    assert set(lifecycle.table) == states  # every state has its row, a final one empty
    assert reachable(lifecycle) == states  # no state (and so no row) that nothing leads to
    for state, row in lifecycle.table.items():
        for event, nxt in row.items():
            assert nxt in states
            assert lifecycle.next(state, event) == nxt


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.name)
def test_every_illegal_transition_raises_the_named_error(lifecycle: Any_) -> None:
    illegal = [
        (state, event)
        for state, event in product(lifecycle.states, lifecycle.events)
        if event not in lifecycle.table.get(state, {})
    ]
    assert illegal  # every table refuses something
    for state, event in illegal:
        assert not lifecycle.allows(state, event)
        with pytest.raises(IllegalTransition) as refused:
            lifecycle.next(state, event)
        assert (refused.value.lifecycle, refused.value.state, refused.value.event) == (
            lifecycle.name,
            state,
            event,
        )
        assert isinstance(refused.value, Conflict)
        assert refused.value.status == 409


def test_the_tables_say_what_the_flows_rely_on() -> None:
    assert DEPOSIT.next(DepositState.OPEN, DepositEvent.CANCEL) is DepositState.CANCELLING
    with pytest.raises(IllegalTransition, match="cannot cancel a deposit that is recorded"):
        DEPOSIT.next(DepositState.RECORDED, DepositEvent.CANCEL)
    terminal = {ParcelState.PICKED_UP, ParcelState.RETURNED}
    assert all(PARCEL.table[state] == {} for state in terminal)
    assert PICKUP.initial is None
    assert set(PICKUP.states) == {None, *OpenedFor}
    assert {s for s, row in INTENT.table.items() if row} == {
        IntentState.PENDING,
        IntentState.UNKNOWN,
    }
    assert DOOR.initial is DoorState.UNKNOWN


def test_the_store_keeps_each_state_as_its_string_and_reads_back_the_enum(tmp_path: Path) -> None:
    engine = open_store(tmp_path / "edge.db")
    try:
        with transaction(engine) as s:
            s.add(Compartment(label="A01", size="M", door=DoorState.CLOSED))
            s.flush()
            s.add(Intent(compartment="A01", reason="r", flow=UnlockFlow.PICKUP, ref="p"))
            who = ("c", "k", "W", "1")  # courier, carrier, waybill, phone
            s.add(
                Deposit(
                    courier_id=who[0],
                    carrier=who[1],
                    waybill=who[2],
                    recipient_phone=who[3],
                    size="M",
                    consent="phone_call",
                    compartment="A01",
                    state=DepositState.RESIZING,
                )
            )
            s.add(
                Parcel(
                    courier_id=who[0],
                    carrier=who[1],
                    waybill=who[2],
                    recipient_phone=who[3],
                    compartment="A01",
                    consent="phone_call",
                    opened_for=OpenedFor.RETURN,
                    state=ParcelState.RETURN_PENDING,
                )
            )
        with engine.connect() as raw:
            stored = [
                tuple(raw.execute(text(query)).one())
                for query in (
                    "SELECT door FROM compartment",
                    "SELECT flow, state FROM intent",
                    "SELECT state FROM deposit",
                    "SELECT state, opened_for FROM parcel",
                )
            ]
        assert stored == [
            ("closed",),
            ("pickup", "pending"),
            ("resizing",),
            ("return_pending", "return"),
        ]
        with transaction(engine) as s:
            intent = s.exec(select(Intent)).one()
            parcel = s.exec(select(Parcel)).one()
            values: list[StrEnum | None] = [
                s.get_one(Compartment, "A01").door,
                intent.flow,
                intent.state,
                s.exec(select(Deposit)).one().state,
                parcel.state,
                parcel.opened_for,
            ]
        assert [type(v) for v in values] == [
            DoorState,
            UnlockFlow,
            IntentState,
            DepositState,
            ParcelState,
            OpenedFor,
        ]
    finally:
        engine.dispose()
