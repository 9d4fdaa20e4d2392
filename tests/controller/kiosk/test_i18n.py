"""Every screen text exists in both languages, and every flow error a person can meet is
translated."""

from __future__ import annotations

import re
from pathlib import Path

from controller.kiosk.i18n import FLOW_MESSAGES, LANGUAGES, TEXTS, flow_message, translator

TEMPLATES = Path(__file__).parents[3] / "controller" / "kiosk" / "templates"


def test_every_text_has_every_language() -> None:
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry.values()), key


def test_every_key_used_exists_and_every_key_is_used() -> None:
    sources = [p.read_text() for p in TEMPLATES.glob("*.html")]
    sources.append((TEMPLATES.parent / "pages.py").read_text())
    used: set[str] = set()
    for text in sources:
        used |= set(re.findall(r"""(?<![\w.])t\(['"]([a-z_]+)['"]""", text))
        used |= set(re.findall(r"""['"](door_open_[a-z]+)['"]""", text))
    prefixes = {k for k in used if k.endswith("_")}
    assert {k for k in used if not k.endswith("_")} - set(TEXTS) == set()
    unused = {k for k in TEXTS if k not in used and not k.startswith(tuple(prefixes))}
    assert unused == set()


def test_unknown_keys_show_loudly_and_values_are_filled() -> None:
    t = translator("en")
    assert t("no_such_key") == "[no_such_key]"
    assert translator("xx")("home") == "首页"  # an unknown language falls back to Chinese
    assert t("wrong_code", n=3) == "Wrong code. 3 tries left."


def test_flow_errors_are_translated() -> None:
    for english, chinese in FLOW_MESSAGES.items():
        assert flow_message(english, "zh") == chinese
        assert flow_message(english, "en") == english
