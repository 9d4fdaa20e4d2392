"""The console's words in Chinese and English: one ``TEXTS`` table per part, merged here.

Each part keeps its keys under its own prefix (``accounts.``, ``alarms.``, ``views.``, ``cold.``,
``pages.``); a part that has not landed yet is simply absent. Every key has both languages (a
test checks it), and a key two parts both define is an error at import, not a silent override.
"""

from __future__ import annotations

import importlib
import logging

LANGUAGES = ("zh", "en")  # the first is the default
PARTS = ("accounts", "alarms", "views", "cold", "pages")

log = logging.getLogger(__name__)


def merged(parts: tuple[str, ...] = PARTS) -> dict[str, dict[str, str]]:
    """Every present part's ``TEXTS`` in one table."""
    texts: dict[str, dict[str, str]] = {}
    for part in parts:
        try:
            module = importlib.import_module(f"{__name__}.{part}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{part}":
                raise  # the part exists but something it imports does not
            continue
        table: dict[str, dict[str, str]] = module.TEXTS
        clash = texts.keys() & table.keys()
        if clash:
            raise ValueError(f"texts defined twice: {sorted(clash)}")
        texts |= table
    return texts


TEXTS = merged()


class Translator:
    """``t(key, **values)`` in one language, for templates and pages. A key nobody defined
    shows as itself (and is logged once per key), so a missing word never breaks a page."""

    def __init__(self, language: str, texts: dict[str, dict[str, str]] = TEXTS) -> None:
        self.language = language
        self.texts = texts

    def __call__(self, key: str, **values: object) -> str:
        entry = self.texts.get(key)
        if entry is None:
            if key not in MISSING:
                MISSING.add(key)
                log.warning("console text missing: %s", key)
            return key
        return entry[self.language].format(**values) if values else entry[self.language]


MISSING: set[str] = set()
