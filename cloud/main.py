"""The cloud app: settings, engine, routes and one error mapping."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from cloud.api.deps import RateLimiter
from cloud.api.routes import router
from cloud.api.storage_routes import router as storage_router
from cloud.clock import Clock, SystemClock
from cloud.coldchain.api import router as cold_router
from cloud.console.app import install as install_console
from cloud.core import heap
from cloud.core.config import Settings
from cloud.core.db import POOL_SIZE, make_engine
from cloud.messaging.routes import router as messages_router
from cloud.recipients.routes import install as install_recipient_page
from cloud.services.errors import CloudError, RateLimited
from cloud.webhooks.routes import router as webhooks_router
from locker_contract.text import sanitised

MESSAGE_MAX = 300  # what an error message may quote, at most
ISSUES_MAX = 20  # validation issues reported, at most


@asynccontextmanager
async def _lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """Routes that read the database run on worker threads, each holding a pooled connection:
    no more threads than the pool's connections at rest (anyio's default is 40), so a burst
    waits for a thread in the event loop instead of opening and closing connections beyond the
    pool and switching forty threads for one lock (decision 0031)."""
    to_thread.current_default_thread_limiter().total_tokens = POOL_SIZE
    yield


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` is the time every route reads (the system's unless given)."""
    settings = settings or Settings()  # from the environment
    app = FastAPI(
        title="smartlocker cloud",
        description="Shared parcel lockers: carriers' reservations, parcels and couriers; "
        "operators' fleet; property managers' health view. Authenticate with "
        "`Authorization: Bearer <API key>`.",
        version="1",
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.clock = clock or SystemClock()
    app.state.limiter = RateLimiter(settings.rate_per_minute, app.state.clock)
    app.include_router(router)
    app.include_router(messages_router)  # recipients' messages and receipts (issue 14)
    app.include_router(storage_router)  # sites' storage policies (decision 0017)
    install_recipient_page(app)  # /r/<token>: the recipients' page (decision 0018)
    app.include_router(webhooks_router)  # carriers' webhooks, tracking, returns (issue 16)
    app.include_router(cold_router)  # parcels' temperature traces (issue 17)
    install_console(app)  # /console/: the managers' console (issue 15)

    @app.exception_handler(CloudError)
    async def cloud_error(_request: Request, exc: CloudError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(float(str(exc.detail["retry_after_s"])))))
        extra = {k: sanitised(v) if isinstance(v, str) else v for k, v in exc.detail.items()}
        body = {"detail": sanitised(exc.message, MESSAGE_MAX), **extra}
        return JSONResponse(body, exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": validation_issues(exc.errors())}, 422)

    return app


def validation_issues(errors: Any) -> list[dict[str, object]]:
    """What went wrong, echoing none of the input (it may be a lone surrogate or a NaN that no
    JSON encoder takes, or megabytes): where, a bounded sanitised message and the kind."""
    issues: list[dict[str, object]] = []
    for error in list(errors)[:ISSUES_MAX]:
        loc = [p if isinstance(p, int) else sanitised(p) for p in error.get("loc", ())]
        issues.append(
            {
                "loc": loc,
                "msg": sanitised(error.get("msg", ""), MESSAGE_MAX),
                "type": sanitised(error.get("type", "")),
            }
        )
    return issues


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (several workers each build their own): a worker
    process of its own, so its collector is settled once the app is built (``cloud.core.heap``;
    decision 0031)."""
    app = create_app()
    heap.settle()
    return app
