"""The console on the cloud's app: ``install(app)`` adds its static files and every router:
the accounts' (sign-in, sign-out, invitations), the pages' and the live stream's."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.coldchain import console as cold  # /console/cold: zones' and parcels' traces
from cloud.console import live
from cloud.console.accounts import routes as accounts
from cloud.console.accounts.deps import CsrfRefused, refused_page
from cloud.console.pages import routes as pages
from cloud.console.web import HERE


def install(app: FastAPI) -> None:
    """The console's static files and routes, on the cloud's app."""
    app.mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static")
    for router in (accounts.router, pages.router, cold.router, live.router):
        app.include_router(router)
    # a console form without its token is a page (403) on every console route, whatever its
    # route class; the app's JSON handler of CloudError would answer it otherwise
    app.add_exception_handler(CsrfRefused, refused_page)
