"""Every page's routes in one router, for ``cloud.console.app.install``."""

from __future__ import annotations

from fastapi import APIRouter

from cloud.console.pages import alarms, bank, fleet, health, parcels, records, reports

router = APIRouter()
for module in (fleet, bank, alarms, parcels, records, reports, health):
    router.include_router(module.router)
