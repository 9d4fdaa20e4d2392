"""A trace as CSV, for a carrier's records and the console: one row per sample, in UTC.

Every cell is a time, a number, a fixed word or a name the contract's patterns allow (zone,
bank): nothing a spreadsheet would run as a formula.
"""

from __future__ import annotations

import csv
import io

from cloud.coldchain.service import Trace
from locker_contract.cold import in_range

HEADER = (
    "bank_id",
    "zone",
    "temperature_class",
    "time_utc",
    "celsius",
    "humidity",
    "failure",
    "in_range",
)


def csv_text(trace: Trace) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for sample in trace.samples:
        ok = "" if sample.celsius is None else _yes(in_range(trace.klass, sample.celsius))
        writer.writerow(
            (
                trace.bank_id,
                trace.zone,
                str(trace.klass),
                sample.at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                _number(sample.celsius),
                _number(sample.humidity),
                sample.failure or "",
                ok,
            )
        )
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _yes(value: bool) -> str:
    return "yes" if value else "no"
