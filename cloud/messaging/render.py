"""What a message says, from its template file (``templates/<kind>.<language>.txt``: the first
line is the subject, the rest the body; ``string.Template`` placeholders). The code is filled in
here, in flight, and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from string import Template
from zoneinfo import ZoneInfo

from cloud.messaging.states import MessageKind

TEMPLATES = Path(__file__).with_name("templates")
LANGUAGES = ("zh", "en")
DEADLINE_FORMAT = {"zh": "%Y-%m-%d %H:%M", "en": "%d %b %Y %H:%M"}
SEPARATOR = {"zh": "、", "en": ", "}
WAYBILL_SHOWN = 4  # the waybill's last characters a message shows, after its prefix


@dataclass(frozen=True)
class Facts:
    """Everything a message tells, gathered by the dispatcher (``cloud.messaging.compose``)."""

    kind: MessageKind
    language: str
    bank: str
    address: str
    labels: tuple[str, ...]
    carriers: tuple[str, ...]
    waybills: tuple[str, ...]
    deadline: datetime
    zone: ZoneInfo
    code: str = ""
    link: str = ""
    fee_rule: str = ""


@cache
def template(name: str, language: str) -> Template:
    """``templates/<name>.<language>.txt``, read once; a language without templates reads as
    Chinese (the default)."""
    language = language if language in LANGUAGES else LANGUAGES[0]
    text = (TEMPLATES / f"{name}.{language}.txt").read_text(encoding="utf-8")
    return Template(text.rstrip("\n"))


def mask_waybill(waybill: str) -> str:
    """``SF1008611`` -> ``SF***8611``: its carrier's prefix and last digits only."""
    if len(waybill) <= WAYBILL_SHOWN + 2:
        return "*" * (len(waybill) - 2) + waybill[-2:]
    return waybill[:2] + "*" * (len(waybill) - WAYBILL_SHOWN - 2) + waybill[-WAYBILL_SHOWN:]


def render(facts: Facts) -> tuple[str, str]:
    """The message's subject and body."""
    language = facts.language if facts.language in LANGUAGES else LANGUAGES[0]
    join = SEPARATOR[language].join
    fields = {
        "bank": facts.bank,
        "address": facts.address or facts.bank,
        "labels": join(facts.labels),
        "carrier": join(facts.carriers),
        "waybills": join(mask_waybill(w) for w in facts.waybills),
        "deadline": facts.deadline.astimezone(facts.zone).strftime(DEADLINE_FORMAT[language]),
        "code": facts.code,
        "link": _part("link", language, url=facts.link) if facts.link else "",
        "fees": _part("fees", language, rule=facts.fee_rule) if facts.fee_rule else "",
    }
    subject, _, body = template(facts.kind.value, language).substitute(fields).partition("\n")
    return subject, body


def _part(name: str, language: str, **fields: str) -> str:
    return template(name, language).substitute(fields)
