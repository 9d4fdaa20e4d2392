"""The console on the cloud's app: ``install(app)`` adds its static files and every router:
the accounts' (sign-in, sign-out, invitations), the pages' and the live stream's."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.coldchain import console as cold  # /console/cold: zones' and parcels' traces
from cloud.console import live
from cloud.console.accounts import routes as accounts
from cloud.console.pages import routes as pages
from cloud.console.web import HERE


def install(app: FastAPI) -> None:
    """The console's static files and routes, on the cloud's app."""
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in (accounts.router, pages.router, cold.router, live.router):
        app.include_router(router)
