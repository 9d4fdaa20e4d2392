"""Every value a read model shows has its words in both languages."""

from __future__ import annotations

from cloud.console.texts import LANGUAGES
from cloud.console.texts.views import TEXTS
from cloud.console.views.bank import DoorState
from cloud.console.views.parcels import Bucket
from cloud.console.views.records import COLUMNS, Kind


def test_every_value_has_its_words() -> None:
    wanted = {f"views.door.{s}" for s in DoorState}
    wanted |= {f"views.bucket.{b}" for b in Bucket}
    wanted |= {f"views.kind.{k}" for k in Kind}
    wanted |= {f"views.csv.{c}" for c in COLUMNS}
    assert wanted <= TEXTS.keys()
    for key, words in TEXTS.items():
        assert key.startswith("views.")
        assert set(words) == set(LANGUAGES)
        assert all(words.values())
