"""The console on the cloud's app: ``install(app)`` adds its static files and every router.

The accounts' router (sign-in, sign-out, invitations) comes from ``cloud.console.accounts``;
the pages' routers from ``cloud.console.pages``; the live stream from ``cloud.console.live``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging

from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.console.web import HERE

log = logging.getLogger(__name__)
ROUTERS = (  # every console router, in the order they match
    "cloud.console.accounts.routes",
    "cloud.console.pages.routes",
    "cloud.console.live",
)


def install(app: FastAPI) -> None:
    """The console's static files and routes, on the cloud's app."""
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for name in ROUTERS:
        if importlib.util.find_spec(name) is None:  # a part still being built (issue 15)
            log.warning("console part absent: %s", name)
            continue
        router: APIRouter = importlib.import_module(name).router
        app.include_router(router)
