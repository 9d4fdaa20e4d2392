"""What kind of alarm each kind is: its class, and whether its cause ends by itself.

An alarm's ``kind`` is what raised it (an event's type, or a link's condition); its class says
who deals with it and how it may end:

- **technical**: a part of the bank does not work (a jammed door, an unlock whose outcome is
  unknown, a board or the whole bank offline, a clock off, a stalled stream, an event set
  aside). The cloud clears it when it sees the cause end; a person may acknowledge it but may not
  close it while the cause persists (``persisting_cause`` says why, in the words of
  ``alarms.cause.<kind>``).
- **tamper**: someone acted on the bank without leave: a door forced open (cleared when that door
  is shut), the keypad locked out by guessed codes. A person may close it.
- **timer**: something lasted longer than it should: a door left open (cleared when shut), a
  parcel overdue. A door left open is a timer, not tamper: the door was opened by a legitimate
  unlock and the edge's limit ran out; nobody broke anything (decision 0023).
- **environment**: a measured condition out of its range (a compartment's temperature, from the
  cold chain). A person may close it.

A kind not listed here is technical: an alarm nobody has classified is one a person cannot
dismiss while the cloud still holds it open.
"""

from __future__ import annotations

from enum import StrEnum

from cloud.console.texts.alarms import TEXTS


class AlarmClass(StrEnum):
    TECHNICAL = "technical"
    TAMPER = "tamper"
    TIMER = "timer"
    ENVIRONMENT = "environment"


T, TA, TI, E = AlarmClass.TECHNICAL, AlarmClass.TAMPER, AlarmClass.TIMER, AlarmClass.ENVIRONMENT

# kind -> class; kinds raised by ingest (cloud.services.effects), presence, the aside, cold chain
KINDS: dict[str, AlarmClass] = {
    "door.jammed": T,
    "door.outcome_unknown": T,
    "board.offline": T,
    "bank.offline": T,
    "clock.skew": T,
    "stream.stalled": T,
    "event.quarantined": T,
    "door.forced_open": TA,
    "kiosk.lockout": TA,
    "door.left_open": TI,
    "parcel.overdue": TI,
    # the cold chain's (cloud.coldchain.ingest): a zone out of its class's range, its sensor
    # failing (cleared when it answers again)
    "temperature_excursion": E,
    "temperature_sensor": T,
}

CAUSE_KEY = "alarms.cause.{}"  # why a technical alarm cannot be closed by hand, in words


def class_of(kind: str) -> AlarmClass:
    return KINDS.get(kind, AlarmClass.TECHNICAL)


def kinds_of(klass: AlarmClass) -> frozenset[str]:
    """The kinds listed under ``klass`` (technical also takes every kind not listed)."""
    return frozenset(kind for kind, listed in KINDS.items() if listed is klass)


def persisting_cause(kind: str) -> str | None:
    """Why an open alarm of ``kind`` may not be closed by a person; None if it may."""
    if class_of(kind) is not AlarmClass.TECHNICAL:
        return None
    words = TEXTS.get(CAUSE_KEY.format(kind)) or TEXTS[CAUSE_KEY.format("unknown")]
    return words["en"]
