"""Supervision console (监督工作台) at /console: static HTML/CSS/JS from projections/console/.

Plain files, no build step and nothing loaded from another origin (the Content-Security-Policy
below says so to the browser too). The page signs in with a staff API key kept in
sessionStorage and calls the same /api/v1 endpoints as any other client, with
`Authorization: Bearer`. The one console-specific read is /console/api/directory: agency names
and regions from the projected `agencies` reference set, for the filters and labels.
"""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from ..auth import Principal
from ..hub import STAFF_ROLES, get_hub, require

router = APIRouter(tags=["console"])

STATIC = Path(__file__).resolve().parents[1] / "console"
TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
         ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png",
         ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8"}
HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                                "frame-ancestors 'none'; form-action 'self'"),
}


@router.get("/console", include_in_schema=False)
async def console_root():
    return RedirectResponse("/console/", status_code=307)


@router.get("/console/", include_in_schema=False)
async def console_index():
    return _file("index.html")


@router.get("/console/api/directory", summary="agencies and regions for the console's filters")
async def directory(request: Request, principal: Principal = Depends(require(*STAFF_ROLES))):
    """`{"agencies": [{agency_code, name, region_code, domain}], "regions": [codes]}` from the
    current `agencies` reference set, limited to the key's jurisdiction."""
    hub = get_hub(request)

    def q():
        try:
            from ..models import ReferenceSet
        except ImportError:  # a hub without the reference projection: names fall back to codes
            return []
        with hub.Session() as s:
            row = s.get(ReferenceSet, "agencies")
            return list(row.items) if row is not None else []

    rows = await run_in_threadpool(q)
    agencies = sorted(
        ({k: r.get(k) for k in ("agency_code", "name", "region_code", "domain")} for r in rows
         if principal.sees_region(r.get("region_code"))),
        key=lambda r: (r["region_code"] or "", r["name"] or ""))
    return {"agencies": agencies, "regions": sorted({a["region_code"] for a in agencies if a["region_code"]})}


@router.get("/console/{name}", include_in_schema=False)
async def console_file(name: str):
    return _file(name)


def _file(name: str) -> FileResponse:
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in TYPES:
        raise HTTPException(404, f"no console file {name}")
    return FileResponse(path, media_type=TYPES[path.suffix], headers=HEADERS)
