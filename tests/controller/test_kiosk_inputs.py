"""No input reaches the store or a 500 through the kiosk: every field of every API route and
page form refuses NUL, control characters, lone surrogates, NaN and 100,000 characters with a
422 (API) or the form again with an error (pages), and the 422 quotes nothing unencodable."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import select

from controller.store import Deposit, Throttle
from tests.controller.conftest import Bank

# raw JSON texts, so that a lone surrogate and NaN reach the server as a client could send them
BAD_JSON = {
    "nul": '"SF\\u0000100"',
    "escape": '"SF\\u001b[2J"',
    "surrogate": '"SF\\ud800"',
    "nan": "NaN",
    "infinity": "-Infinity",
    "long": json.dumps("9" * 100_000),
}
BAD_FORM = {
    "nul": "SF\x00100",
    "escape": "SF\x1b[2J",
    "c1": "SF\x85",
    "long": "9" * 100_000,
}
GOOD: dict[str, dict[str, object]] = {
    "/api/courier/sign-in": {"courier_id": "sf-1", "pin": "2468"},
    "/api/deposits": {
        "waybill": "SF1",
        "phone": "13800138000",
        "size": "M",
        "low": False,
        "consent": "phone_call",
    },
    "/api/pickup": {"code": "1234 5678"},
    "/api/pickup/refuse": {"session": "s", "parcel_id": "p", "reason": "damaged"},
}
API_CASES = [(route, field) for route, body in GOOD.items() for field in body]
FORMS = {
    "/kiosk/pickup": {"code": "1234 5678"},
    "/kiosk/pickup/refuse": {"session": "s", "parcel_id": "p"},
    "/kiosk/courier": {"courier_id": "sf-1", "pin": "2468"},
    "/kiosk/courier/deposit": {
        "waybill": "SF1",
        "phone": "13800138000",
        "size": "M",
        "low": "1",
        "consent": "phone_call",
    },
}
FORM_CASES = [(route, field) for route, form in FORMS.items() for field in form]


def _body(route: str, field: str, bad: str) -> bytes:
    fields = {name: json.dumps(value) for name, value in GOOD[route].items()} | {field: bad}
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


def _clean_answer(text: str) -> None:
    """A 422 body is JSON, bounded, and holds no character it could not encode."""
    assert len(text) < 4000
    assert "\x00" not in text
    assert "\x1b" not in text
    json.loads(text)


def _failures(bank: Bank) -> int:
    with bank.session() as s:
        return sum(row.day_failures for row in s.exec(select(Throttle)))


@pytest.mark.parametrize(("route", "field"), API_CASES)
def test_every_api_field_refuses_unstorable_input_with_a_clean_422(
    bank: Bank, route: str, field: str
) -> None:
    headers = {"Content-Type": "application/json"}
    if route == "/api/deposits":
        headers |= bank.courier("sf-1", "sf-express")
    for name, bad in BAD_JSON.items():
        answer = bank.client.post(route, content=_body(route, field, bad), headers=headers)
        assert answer.status_code == 422, (name, answer.text[:300])
        _clean_answer(answer.text)
        assert answer.json()["detail"][0]["loc"] == ["body", field], name
    assert _failures(bank) == 0  # refused before any code or PIN was tried
    with bank.session() as s:
        assert list(s.exec(select(Deposit))) == []


@pytest.mark.parametrize("route", ["", "/does-not-fit", "/cancel"])
def test_deposit_ids_in_the_path_are_bounded_printable_text(bank: Bank, route: str) -> None:
    headers = bank.courier("sf-1", "sf-express")
    for deposit_id in ("a%00b", "a%1Bb", "9" * 1000):
        call = bank.client.get if route == "" else bank.client.post
        answer = call(f"/api/deposits/{deposit_id}{route}", headers=headers)
        assert answer.status_code == 422, answer.text[:300]
        _clean_answer(answer.text)


def test_a_422_quotes_a_bounded_sanitised_prefix_only(bank: Bank) -> None:
    body = b'{"courier_id": "sf-0042\\u0000' + b"9" * 5000 + b'", "pin": "1234"}'
    answer = bank.client.post(
        "/api/courier/sign-in", content=body, headers={"Content-Type": "application/json"}
    )
    [error] = answer.json()["detail"]
    assert error["input"].startswith("sf-0042\N{REPLACEMENT CHARACTER}999")
    assert error["input"].endswith("... (5008 characters)")


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("/api/pickup", b'{"code": "40393153\\u0000"}'),
        ("/api/courier/sign-in", b'{"courier_id": "sf-0042", "pin": "40393153\\u0000"}'),
        ("/api/courier/sign-in", b'{"courier_id": 7, "pin": "40393153"}'),
        ("/api/courier/sign-in", b'{"pin": "40393153"}'),
    ],
)
def test_a_422_never_echoes_a_pin_or_a_code(bank: Bank, route: str, body: bytes) -> None:
    answer = bank.client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert "40393153" not in answer.text
    broken = bank.client.post(
        "/api/pickup", content=b'{"code": "\xff\xfe', headers={"Content-Type": "application/json"}
    )
    assert broken.status_code == 400  # not JSON at all: FastAPI's own clean answer
    _clean_answer(broken.text)


def _page(bank: Bank, route: str, form: dict[str, str]) -> Any:
    return bank.client.post(route, data=form, follow_redirects=False)


@pytest.mark.parametrize(("route", "field"), FORM_CASES)
def test_every_form_field_refuses_unstorable_input_with_a_form_error(
    bank: Bank, route: str, field: str
) -> None:
    if route == "/kiosk/courier/deposit":
        token = bank.courier("sf-1", "sf-express")["Authorization"].split()[1]
        bank.client.cookies.set("kiosk_session", token)
    for name, bad in BAD_FORM.items():
        answer = _page(bank, route, FORMS[route] | {field: bad})
        assert answer.status_code == 422, (name, answer.text[:300])
        assert 'role="alert"' in answer.text
        assert "\x00" not in answer.text
        assert bad not in answer.text  # never echoed back into the form
    assert _failures(bank) == 0
    with bank.session() as s:
        assert list(s.exec(select(Deposit))) == []


def test_form_text_that_is_only_odd_is_answered_not_failed(bank: Bank) -> None:
    """A surrogate cannot arrive in a form (it is not UTF-8); NaN in a form is just text."""
    raw = b"code=%ED%A0%80%ED%A0%80%ED%A0%80"
    answer = bank.client.post(
        "/kiosk/pickup",
        content=raw,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert answer.status_code in (401, 422)
    nan = _page(bank, "/kiosk/pickup", {"code": "NaN"})
    assert nan.status_code == 401  # counted as a wrong code like any other


def test_the_language_switch_sends_nowhere_odd(bank: Bank) -> None:
    for target in ("/kiosk/pickup%00", "/kiosk/" + "a" * 5000, "//evil.example/"):
        answer = bank.client.get(f"/kiosk/lang/en?next={target}", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/kiosk/"


ANY_VALUE = st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from("a9 -\x00\x1b\x85\ud800\udfff\N{CJK UNIFIED IDEOGRAPH-4E2D}")),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(),
    st.booleans(),
    st.none(),
    st.lists(st.text(max_size=3), max_size=2),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(route=st.sampled_from(sorted(GOOD)), data=st.data())
def test_no_json_body_makes_a_500(bank: Bank, route: str, data: st.DataObject) -> None:
    """Whatever values a client puts in the fields, the kiosk API answers without a 500 and in
    JSON it could encode (surrogates travel as JSON escapes, NaN as a bare token)."""
    fields = {name: data.draw(ANY_VALUE, label=name) for name in GOOD[route]}
    body = json.dumps(fields, ensure_ascii=True, allow_nan=True).encode()
    answer = bank.client.post(route, content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code < 500, answer.text[:300]
    json.loads(answer.text)
