"""What each field of the kiosk (JSON API and page forms) may hold: one definition for both.

Every field is ``locker_contract.text.Text`` (printable, no NUL, no lone surrogate) with its own
bound, so nothing the kiosk accepts can later stall the bank's event stream in the cloud.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from locker_contract.text import Text

CourierId = Annotated[Text, Field(min_length=1, max_length=64)]
Pin = Annotated[Text, Field(min_length=4, max_length=12)]
Waybill = Annotated[Text, Field(min_length=1, max_length=64)]
Phone = Annotated[Text, Field(max_length=32)]
Consent = Annotated[Text, Field(max_length=32)]
Code = Annotated[Text, Field(min_length=8, max_length=16, pattern=r"^[0-9 -]+$")]
Token = Annotated[Text, Field(min_length=1, max_length=64)]  # a session or a record's id
Reason = Annotated[Text, Field(min_length=1, max_length=200)]
Next = Annotated[Text, Field(max_length=200)]

# A form field may be empty (the flows explain what is missing) but never unstorable.
_FORM_LIMITS = {
    "courier_id": 64,
    "pin": 12,
    "waybill": 64,
    "phone": 32,
    "size": 8,
    "low": 8,
    "consent": 32,
    "temperature_class": 16,
    "code": 16,
    "session": 64,
    "parcel_id": 64,
    "next": 200,
}
_FORM_FIELDS = {
    name: TypeAdapter(Annotated[Text, Field(max_length=limit)])
    for name, limit in _FORM_LIMITS.items()
}


def unstorable(**fields: str) -> list[str]:
    """The names of the form fields that are too long or hold a forbidden character."""
    bad = []
    for name, value in fields.items():
        try:
            _FORM_FIELDS[name].validate_python(value)
        except ValidationError:
            bad.append(name)
    return bad
