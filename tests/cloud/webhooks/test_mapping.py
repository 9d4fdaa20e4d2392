"""The status mapping table: the code's, the documented one (docs/carriers.md), and the national
codes they cite."""

from __future__ import annotations

from pathlib import Path

from cloud.models import ParcelStatus
from cloud.webhooks.events import MAPPING, Codes, Kind, vocabularies

DOC = Path(__file__).parents[3] / "docs" / "carriers.md"


def _documented() -> dict[str, Codes]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- mapping:start -->")[1].split("<!-- mapping:end -->")[0]
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines()[2:]]

    def code(cell: str) -> int | None:
        return None if cell.strip() == "-" else int(cell)

    return {
        kind.strip(): Codes(
            None if status.strip() == "-" else ParcelStatus(status.strip()),
            code(state),
            code(advanced),
        )
        for kind, status, state, advanced, _meaning in rows
    }


def test_the_documented_table_is_the_codes_table() -> None:
    assert _documented() == {kind.value: codes for kind, codes in MAPPING.items()}


def test_every_kind_is_mapped() -> None:
    assert set(MAPPING) == set(Kind)


def test_the_kuaidi100_codes_cited() -> None:
    """Kuaidi100: 501 投柜或驿站, 304 投柜或站签收, 14 拒签, 6 退回, 5 派件, 3 签收, 2 疑难."""
    assert vocabularies(Kind.IN_LOCKER)["kuaidi100"] == {"state": 5, "code": 501}
    assert vocabularies(Kind.PICKED_UP)["kuaidi100"] == {"state": 3, "code": 304}
    assert vocabularies(Kind.REFUSED)["kuaidi100"] == {"state": 14, "code": 14}
    assert vocabularies(Kind.RETURNED)["kuaidi100"] == {"state": 6, "code": 6}
    for kind in (Kind.EXPIRED, Kind.DOOR_JAMMED, Kind.BANK_OFFLINE):
        assert MAPPING[kind].kuaidi100_state == 2


def test_an_advanced_code_belongs_to_its_main_state() -> None:
    """Kuaidi100's advanced codes extend the main state's digits (501 under 5, 304 under 3)."""
    for codes in MAPPING.values():
        if codes.kuaidi100_code is not None:
            assert str(codes.kuaidi100_code).startswith(str(codes.kuaidi100_state))


def test_our_status_is_where_the_parcel_is_after_the_event() -> None:
    assert MAPPING[Kind.IN_LOCKER].status is ParcelStatus.IN_LOCKER
    assert MAPPING[Kind.REFUSED].status is ParcelStatus.RETURN_PENDING
    assert MAPPING[Kind.EXPIRED].status is ParcelStatus.RETURN_PENDING
    assert MAPPING[Kind.RETURNED].status is ParcelStatus.RETURNED
