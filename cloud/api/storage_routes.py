"""Storage policies per site (decision 0017): set by the site's operator (or an admin), read by
its manager too. Setting one is audited and sent to every bank of the site."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.api.deps import ClockDep, CurrentPrincipal, EngineDep, SettingsDep
from cloud.api.routes import ERRORS
from cloud.services import storage_policy
from cloud.services.errors import NotFound
from locker_contract.storage import StoragePolicy
from locker_contract.text import Text

router = APIRouter(prefix="/api/v1", responses=ERRORS)


@router.put("/sites/{site_id}/storage-policy", tags=["operators"])
def set_storage_policy(
    *,
    site_id: Text,
    body: StoragePolicy,
    engine: EngineDep,
    settings: SettingsDep,
    who: CurrentPrincipal,
    clock: ClockDep,
) -> StoragePolicy:
    """Free hours (at least the local minimum, ``LOCKER_CLOUD_STORAGE_MIN_FREE_HOURS``), then
    ``fee_minor`` per started ``period_hours`` up to ``cap_minor``; the parcel goes back to its
    carrier at ``keep_hours``. Parcels already in the lockers keep the terms they were
    deposited under."""
    minimum = settings.storage_min_free_hours
    return storage_policy.set_policy(
        engine, who, site_id, body, minimum_hours=minimum, now=clock.now()
    )


@router.get("/sites/{site_id}/storage-policy", tags=["operators", "managers"])
def get_storage_policy(site_id: Text, engine: EngineDep, who: CurrentPrincipal) -> StoragePolicy:
    policy = storage_policy.get_policy(engine, who, site_id)
    if policy is None:
        raise NotFound("no storage policy is set for this site: its banks keep their own")
    return policy
