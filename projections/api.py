"""HTTP API (DESIGN.md §9). FastAPI on uvicorn; /openapi.json is generated from the routes.

Each area lives in projections/routes/: intake (appends), ops (sync, health, schemas),
queries (leads, enterprises). Shared resources are on `app.state.hub`.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

import importlib
import logging

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from .hub import Hub

log = logging.getLogger("zhongshu.api")

# Route modules in projections/routes/, each exposing `router`; optional ones may be absent.
ROUTE_MODULES = ("intake", "ops", "queries", "leads", "indicators", "webhooks", "console")


def create_app(settings) -> FastAPI:
    hub = Hub(settings)

    @asynccontextmanager
    async def lifespan(app):
        await hub.start()
        try:
            yield
        finally:
            await hub.stop()

    app = FastAPI(title="zhongshu 执法监督数据中枢", version="0.1.0", lifespan=lifespan)
    app.state.hub = hub
    for name in ROUTE_MODULES:
        try:
            module = importlib.import_module(f"projections.routes.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"projections.routes.{name}":
                raise
            continue
        app.include_router(module.router)
        if hasattr(module, "on_startup"):
            app.router.on_startup.append(module.on_startup)

    @app.exception_handler(HTTPException)
    async def http_error(request, exc: HTTPException):
        return JSONResponse({"title": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def database_error(request, exc: DBAPIError):
        """The database is away, restarting, or closed this process's connection (the pool has
        no pre-ping): the caller retries. Any other database error is ours: 500, logged."""
        if exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError)):
            log.warning("%s %s: database unavailable (%s)", request.method, request.url.path, type(exc).__name__)
            return JSONResponse({"title": "database unavailable; retry later", "detail": type(exc).__name__},
                                status_code=503, headers={"Retry-After": "5"})
        log.error("%s %s: database error", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"title": "internal error"}, status_code=500)

    return app
