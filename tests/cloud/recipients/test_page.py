"""The recipient's page over HTTP (SQLite and PostgreSQL): what it shows, what each action
sends the bank, and links refused with a page, never a 500."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from cloud.models import Parcel
from cloud.recipients import derive
from cloud.recipients.links import make_token
from cloud.recipients.tables import RecipientConsent
from cloud.recipients.texts import REFUSALS_ZH, refusal
from locker_contract.credentials import pin_verifier
from locker_contract.events import ParcelRefused
from locker_contract.phones import phone_verifier
from tests.cloud.conftest import secret
from tests.cloud.recipients.conftest import BANK, PHONE, Group, edge_id

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


def test_the_page_shows_the_group_in_the_readers_language(group: Group) -> None:
    zh = group.cloud.client.get(group.url, headers=ZH)
    assert zh.status_code == 200
    assert "取件地点" in zh.text
    assert "A01, A02" in zh.text
    assert "SF***8611" in zh.text
    assert "SF1008611" not in zh.text
    assert zh.headers["cache-control"] == "no-store"
    assert zh.headers["referrer-policy"] == "no-referrer"
    en = group.cloud.client.get(group.url, headers=EN)
    assert "Where" in en.text
    assert "取件地点" not in en.text
    switched = group.cloud.client.get(f"{group.url}?lang=zh", headers=EN)
    assert "取件地点" in switched.text
    assert "138" not in en.text  # the phone is never shown


def test_a_tampered_link_is_refused_with_a_page(group: Group) -> None:
    forged = group.token[:-2] + ("AA" if group.token[-2:] != "AA" else "BB")
    for url in (f"/r/{forged}", "/r/" + "x" * 54, "/r/" + "a" * 5000, "/r/%00"):
        answer = group.cloud.client.get(url, headers=EN)
        assert answer.status_code in (403, 404), url
        assert "<html" in answer.text
    answer = group.cloud.client.get(f"/r/{forged}", headers=EN)
    assert answer.status_code == 403
    assert "not valid" in answer.text
    for action in ("extend", "share", "refuse", "consent", "qr"):
        posted = group.cloud.client.post(f"/r/{forged}/{action}",
                                         data={"parcel_id": "x", "choice": "refuse",
                                               "code": "12345678"})  # fmt: skip
        assert posted.status_code == 403, action
    assert group.commands("group.extend") == []


def test_an_expired_link_is_refused_with_a_page(group: Group) -> None:
    past = datetime.now(UTC) - timedelta(seconds=1)
    token = make_token(group.cloud.settings.secret_key, group.group_id, past)
    answer = group.cloud.client.get(f"/r/{token}", headers=ZH)
    assert answer.status_code == 410
    assert "过期" in answer.text
    assert group.cloud.client.post(f"/r/{token}/extend").status_code == 410
    other = make_token(secret(), group.group_id, past + timedelta(days=9))
    assert group.cloud.client.get(f"/r/{other}").status_code == 403  # another cloud's key


def test_a_link_to_a_group_never_seen_says_so(group: Group) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    token = make_token(group.cloud.settings.secret_key, str(uuid.uuid4()), later)
    answer = group.cloud.client.get(f"/r/{token}", headers=EN)
    assert answer.status_code == 404
    assert "Nothing is waiting" in answer.text


def test_the_qr_code_is_drawn_from_the_code_posted_and_only_eight_digits(group: Group) -> None:
    answer = group.cloud.client.post(f"{group.url}/qr", data={"code": "12345678"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("image/svg+xml")
    assert answer.text.startswith("<svg")
    for bad in ("1234567", "123456789", "1234 5678", "abcdefgh", "1234567\x00"):
        refused = group.cloud.client.post(f"{group.url}/qr", data={"code": bad})
        assert refused.status_code == 422, bad
    assert group.cloud.client.post(f"{group.url}/qr", data={"code": "9" * 500}).status_code == 422


def _deadline(text: str) -> datetime:
    found = re.search(r"Pick up before: <strong>([0-9-]+ [0-9:]+)</strong>", text)
    assert found is not None, text
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M")


def test_the_deadline_and_fee_rule_as_the_bank_counts_them(group: Group) -> None:
    page = group.cloud.client.get(group.url, headers=EN).text
    assert "Free for 72 h; then it goes back to the carrier." in page  # no site policy: default
    before = _deadline(page)
    group.cloud.client.post(f"{group.url}/extend")
    after = _deadline(group.cloud.client.get(group.url, headers=EN).text)
    assert after - before == timedelta(hours=24)


def test_extend_once(group: Group) -> None:
    first = group.cloud.client.post(f"{group.url}/extend", follow_redirects=False)
    assert first.status_code == 303
    assert group.commands("group.extend") == [{"group_id": group.group_id, "hours": 24.0}]
    again = group.cloud.client.post(f"{group.url}/extend", headers=EN)
    assert again.status_code == 409
    assert "already done" in again.text
    assert len(group.commands("group.extend")) == 1
    in_chinese = group.cloud.client.post(f"{group.url}/extend", headers=ZH)
    assert "保管期已延长过一次" in in_chinese.text


def test_share_a_second_code_and_revoke_it(group: Group) -> None:
    client, key = group.cloud.client, group.cloud.settings.secret_key
    page = client.post(f"{group.url}/share", headers=EN)  # followed back to the page
    assert page.status_code == 200
    [sent] = group.commands("group.share")
    code = derive.share_code(key, str(sent["share_id"]))
    assert f"{code[:4]} {code[4:]}" in page.text
    salt = derive.share_salt(key, BANK)
    assert sent["salt"] == salt
    assert sent["verifier"] == pin_verifier(code, salt)
    assert code not in str(sent)  # the bank gets its verifier, never the code
    assert client.post(f"{group.url}/share", headers=EN).status_code == 409  # one at a time
    revoked = client.post(f"{group.url}/share/{sent['share_id']}/revoke", headers=EN)
    assert revoked.status_code == 200
    assert code not in revoked.text
    assert group.commands("group.unshare") == [{"share_id": sent["share_id"]}]
    again = client.post(f"{group.url}/share/{sent['share_id']}/revoke", headers=EN)
    assert again.status_code == 404
    assert client.post(f"{group.url}/share").status_code == 200
    [_, second] = group.commands("group.share")
    assert derive.share_code(key, str(second["share_id"])) != code


def test_refuse_a_parcel_from_the_page(group: Group) -> None:
    with Session(group.engine) as s:
        parcel = s.exec(select(Parcel).where(Parcel.waybill == "JD2000")).one()
    page = group.cloud.client.post(f"{group.url}/refuse", data={"parcel_id": parcel.id},
                                   headers=EN)  # fmt: skip
    assert page.status_code == 200
    assert "Refused: telling the locker" in page.text
    assert group.commands("parcel.refuse") == [{
        "group_id": group.group_id, "carrier_id": "jd", "waybill": "JD2000",
        "reason": "refused on the recipient's page",
    }]  # fmt: skip
    group.report(ParcelRefused(parcel_id=edge_id("JD2000"), waybill="JD2000", reason="refused"))
    page = group.cloud.client.get(group.url, headers=EN)
    assert "Going back to the courier" in page.text
    assert "A01" in page.text
    assert "A01, A02" not in page.text
    unknown = group.cloud.client.post(f"{group.url}/refuse", data={"parcel_id": "nope"})
    assert unknown.status_code == 404


@pytest.mark.parametrize("choice", ["refuse", "consent"])
def test_a_standing_answer_is_kept_by_a_hash_and_a_carrier_sees_it(
    group: Group, choice: str
) -> None:
    client, sf = group.cloud.client, group.cloud.keys["sf"]
    ask = {"bank_id": BANK, "recipient_phone": "13800138000"}
    assert group.cloud.ok("POST", "/api/v1/recipients/consent", sf, json=ask)["answer"] == "unknown"
    assert client.post(f"{group.url}/consent", data={"choice": choice}).status_code == 200
    expected = {"refuse": "refused", "consent": "consented"}[choice]
    assert group.cloud.ok("POST", "/api/v1/recipients/consent", sf, json=ask)["answer"] == expected
    with Session(group.engine) as s:
        rows = list(s.exec(select(RecipientConsent)))
    assert [r.choice for r in rows] == [choice]
    assert "13800138000" not in rows[0].phone_hash
    assert "8000" not in str(rows[0].model_dump())
    salt = derive.phone_salt(group.cloud.settings.secret_key)
    told = group.commands("recipient.refusal")
    if choice == "refuse":
        assert told == [{"salt": salt, "verifier": phone_verifier(PHONE, salt), "refused": True}]
        client.post(f"{group.url}/consent", data={"choice": "clear"})
        assert [c["refused"] for c in group.commands("recipient.refusal")] == [True, False]
    else:
        assert told == []  # consent needs no bank to refuse anything


def test_bad_form_input_is_never_a_500(group: Group) -> None:
    client = group.cloud.client
    for data in ({"choice": "maybe"}, {"choice": "\x00"}, {"choice": "x" * 10_000}, {}):
        assert client.post(f"{group.url}/consent", data=data).status_code in (409, 422)
    assert client.post(f"{group.url}/share/{'z' * 3000}/revoke").status_code == 404
    assert client.post(f"{group.url}/share/%00/revoke").status_code == 404
    assert client.post(f"{group.url}/refuse", data={"parcel_id": "\x00"}).status_code == 404
    anon = client.post(
        "/api/v1/recipients/consent", json={"bank_id": BANK, "recipient_phone": "1380013800"}
    )
    assert anon.status_code == 401


def test_every_refusal_the_services_give_has_its_chinese() -> None:
    sources = "".join(
        (Path(__file__).parents[3] / "cloud" / "recipients" / name).read_text()
        for name in ("service.py", "consent.py", "routes.py")
    )
    said = set(re.findall(r'raise (?:Conflict|NotFound|Invalid)\("([^"{]+)"\)', sources))
    said |= {f"already done: {kind}" for kind in ("extend", "refuse")}
    assert said == set(REFUSALS_ZH)
    assert refusal("already done: extend", "en") == "already done: extend"


def test_a_bank_added_later_learns_the_refusals(group: Group) -> None:
    group.cloud.client.post(f"{group.url}/consent", data={"choice": "refuse"})
    [told] = group.commands("recipient.refusal")
    site = group.cloud.keys[f"site:{BANK}"]["id"]
    body = {"id": "later-1", "site_id": site, "name": "later",
            "compartments": [{"label": "A01", "size": "M"}]}  # fmt: skip
    group.cloud.ok("POST", "/api/v1/banks", group.cloud.keys["operator"], json=body)
    assert group.commands("recipient.refusal") == [told, told]  # the same verifier, no phone


def test_no_access_log_line_holds_a_link(group: Group) -> None:
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("127.0.0.1:5000", "POST", f"{group.url}/share?lang=en", "1.1", 303),
                               None)  # fmt: skip
    assert all(f.filter(record) for f in access.filters if isinstance(f, logging.Filter))
    line = record.getMessage()
    assert group.token not in line
    assert "/r/…/share?lang=en" in line
