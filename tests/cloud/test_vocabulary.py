"""Words defined once (locker_contract.vocabulary), and shapes the API and services share."""

from __future__ import annotations

from cloud import models
from cloud.api import schemas
from controller import config
from locker_contract import vocabulary


def test_size_is_one_definition_for_the_edge_and_the_cloud() -> None:
    assert models.Size is vocabulary.Size
    assert config.Size is vocabulary.Size
    assert [size.rank for size in vocabulary.Size] == [0, 1, 2, 3]


def test_the_api_and_the_services_share_one_definition_of_each_shape() -> None:
    assert schemas.ReservationCreate is models.ReservationCreate
    assert schemas.CompartmentCreate is models.CompartmentCreate
    assert schemas.BankPublic is models.BankPublic
    assert schemas.CourierCodePublic is models.CourierCodePublic
    assert schemas.KeyPublic is models.KeyPublic
