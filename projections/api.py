"""HTTP API (DESIGN.md §9). FastAPI on uvicorn; /openapi.json is generated from the routes.

Each area lives in projections/routes/: intake (appends), ops (sync, health, schemas),
queries (leads, enterprises). Shared resources are on `app.state.hub`.
"""
from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse

import importlib

from .hub import Hub

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

    return app
