"""What a string or a number may hold anywhere in the contract, and at the kiosk and the cloud API.

PostgreSQL refuses U+0000 in text, JSON cannot carry a lone surrogate as UTF-8, and ``NaN`` or
``inf`` are not JSON numbers at all: one such value accepted at the kiosk once stalled a bank's
whole event stream in the cloud. So every text field is ``Text`` (bounded, printable: no C0 or
C1 control characters but tab, no lone surrogates, no NUL), every float is ``FiniteFloat``, and
the same definitions are imported by the edge, the contract and the cloud.

``Annotated[Text, Field(max_length=N)]`` (or ``min_length``) tightens the bound: both bounds
apply, so it can only lower ``TEXT_MAX``; ``LongText`` is for a detail or a reason of up to
``LONG_TEXT_MAX``. ``Annotated[FiniteFloat, Field(ge=0)]`` adds limits to a float.

``sanitised`` is what a log line may quote of untrusted input: a bounded, printable prefix.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import AfterValidator, Field

TEXT_MAX = 200  # a waybill, a name, a reason: longer is not a mistake we need to store
LONG_TEXT_MAX = 500  # a detail or an error's reason
LOG_QUOTE_MAX = 80  # what a log line quotes of bad input

# C0 controls but tab, DEL, C1 controls, and UTF-16 surrogates (only ever alone in a str)
_FORBIDDEN = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ud800-\udfff]")


def check_text(value: str) -> str:
    """Refuse control characters and lone surrogates; return ``value`` unchanged otherwise."""
    found = _FORBIDDEN.search(value)
    if found is not None:
        raise ValueError(
            f"control character or lone surrogate U+{ord(found.group()):04X} "
            f"at position {found.start()}"
        )
    return value


def check_finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Text = Annotated[str, Field(max_length=TEXT_MAX), AfterValidator(check_text)]
"""Printable text of at most ``TEXT_MAX`` characters."""

LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX), AfterValidator(check_text)]
"""Printable text of at most ``LONG_TEXT_MAX`` characters: a detail, an error's reason."""

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""A float that JSON and every database can store: no NaN, no infinity."""


def sanitised(value: object, limit: int = LOG_QUOTE_MAX) -> str:
    """A printable, bounded quote of untrusted input, for a log line or an error message."""
    quoted = value if isinstance(value, str) else repr(value)
    head = _FORBIDDEN.sub("\N{REPLACEMENT CHARACTER}", quoted[:limit])
    return head + (f"... ({len(quoted)} characters)" if len(quoted) > limit else "")
