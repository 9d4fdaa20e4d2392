"""The console's words: every key in both languages, no part's key defined twice."""

from __future__ import annotations

import pytest

from cloud.console.texts import LANGUAGES, TEXTS, Translator, merged


def test_every_key_has_every_language() -> None:
    assert TEXTS, "no texts at all"
    for key, entry in TEXTS.items():
        assert set(entry) == set(LANGUAGES), key
        assert all(entry[lang].strip() for lang in LANGUAGES), key


def test_every_key_is_prefixed_by_its_part() -> None:
    assert all("." in key for key in TEXTS)


def test_the_shell_words_are_there() -> None:
    assert Translator("zh")("pages.fleet") == "柜机总览"
    assert Translator("en")("pages.signed_in_as", name="Li") == "Signed in as Li"


def test_a_missing_key_shows_as_itself() -> None:
    assert Translator("en")("pages.no such key") == "pages.no such key"


def test_a_key_defined_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="defined twice"):
        merged(("pages", "pages"))
