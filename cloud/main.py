"""The cloud app: settings, engine, routes and one error mapping."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from cloud.api.deps import RateLimiter
from cloud.api.routes import router
from cloud.core.config import Settings
from cloud.core.db import make_engine
from cloud.services.errors import CloudError, RateLimited


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()  # type: ignore[call-arg]  # from the environment
    app = FastAPI(
        title="smartlocker cloud",
        description="Shared parcel lockers: carriers' reservations, parcels and couriers; "
        "operators' fleet; property managers' health view. Authenticate with "
        "`Authorization: Bearer <API key>`.",
        version="1",
    )
    app.state.settings = settings
    app.state.engine = make_engine(settings.database_url)
    app.state.limiter = RateLimiter(settings.rate_per_minute)
    app.include_router(router)

    @app.exception_handler(CloudError)
    async def cloud_error(_request: Request, exc: CloudError) -> JSONResponse:
        headers = {}
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(max(1, round(float(str(exc.detail["retry_after_s"])))))
        return JSONResponse({"detail": exc.message, **exc.detail}, exc.status, headers=headers)

    return app


def app_from_environment() -> FastAPI:
    """Entry point for ``uvicorn --factory`` (several workers each build their own)."""
    return create_app()
