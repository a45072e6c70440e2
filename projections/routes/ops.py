"""Sync (read-your-writes), health, readiness and schemas."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from streams.topics import INGRESS_TOPICS, INTERNAL_TOPICS, REFERENCE_TOPICS

from ..auth import Principal
from ..hub import Hub, get_hub, require
from ..projector import PROJECTED_TOPICS, load_offsets

router = APIRouter()

WORKER_TOPICS = (*INGRESS_TOPICS, *REFERENCE_TOPICS, "hub.clock", *INTERNAL_TOPICS)


@router.get("/api/v1/sync", tags=["clock"])
async def sync(request: Request, timeout: float = Query(30.0, ge=0, le=600), principal: Principal = Depends(require())):
    """Returns once the workers, then the projector, have caught up with the log ends as of the call; 504 on timeout."""
    try:
        return await asyncio.wait_for(wait_caught_up(get_hub(request)), timeout=timeout)
    except asyncio.TimeoutError:
        return JSONResponse({"title": f"not caught up within {timeout}s"}, status_code=504)


class StallWatch:
    """Faust workers are known to stop consuming silently upstream: a partition whose consumer
    position has not moved for `stall_seconds` while records wait behind it is stalled."""

    def __init__(self):
        self.seen: dict[tuple, tuple[int, float]] = {}  # (stage, topic, partition) -> (position, since)

    def stalled(self, stage: str, positions: dict, ends: dict, stall_seconds: float) -> list[str]:
        now = time.monotonic()
        out = []
        for tp, end in ends.items():
            pos = positions.get(tp, 0)
            key = (stage, tp.topic, tp.partition)
            last = self.seen.get(key)
            if last is None or last[0] != pos or pos >= end:
                self.seen[key] = (pos, now)
                continue
            if now - last[1] >= stall_seconds:
                out.append(f"{tp.topic}/{tp.partition} at {pos} of {end} for {int(now - last[1])}s")
        return out


async def stage_lag(hub: Hub) -> dict:
    ends = await hub.positions.end_offsets(WORKER_TOPICS)
    committed = await hub.positions.group_offsets(hub.settings.app_id)
    starts = await hub.positions.beginning_offsets(ends.keys())
    worker_pos = {tp: committed.get(tp, starts.get(tp, 0)) for tp in ends}
    pends = await hub.positions.end_offsets(PROJECTED_TOPICS)
    stored = await run_in_threadpool(load_offsets, hub.Session)
    projector_pos = {tp: stored.get((tp.topic, tp.partition), 0) for tp in pends}
    watch = hub.__dict__.setdefault("stall_watch", StallWatch())
    limit = hub.settings.stall_seconds
    return {
        "worker": sum(max(0, end - worker_pos[tp]) for tp, end in ends.items()),
        "projector": sum(max(0, end - projector_pos[tp]) for tp, end in pends.items()),
        "stalled": {"worker": watch.stalled("worker", worker_pos, ends, limit),
                    "projector": watch.stalled("projector", projector_pos, pends, limit)},
    }


async def _wait_offsets(ends, current, poll: float = 0.1):
    while True:
        have = await current()
        if all(have.get(tp, 0) >= end for tp, end in ends.items() if end > 0):
            return
        await asyncio.sleep(poll)


async def wait_caught_up(hub: Hub) -> dict:
    """Workers past the log ends as of the call (chasing the facts they forward meanwhile),
    then the projector past everything the workers had produced by then."""
    started = time.monotonic()
    ends = await hub.positions.end_offsets(WORKER_TOPICS)
    beginnings = await hub.positions.beginning_offsets(ends.keys())

    async def worker_offsets():
        got = await hub.positions.group_offsets(hub.settings.app_id)
        # an empty partition (end == beginning) needs no commit to be caught up
        return {tp: got.get(tp, beginnings.get(tp, 0)) for tp in ends}

    while True:
        await _wait_offsets(ends, worker_offsets)
        again = await hub.positions.end_offsets(INTERNAL_TOPICS)
        if all(again[tp] <= ends.get(tp, 0) for tp in again):
            break
        ends.update(again)
        beginnings.update(await hub.positions.beginning_offsets(again.keys()))
    pends = await hub.positions.end_offsets(PROJECTED_TOPICS)

    async def projector_offsets():
        stored = await run_in_threadpool(load_offsets, hub.Session)
        return {tp: stored.get((tp.topic, tp.partition), 0) for tp in pends}

    await _wait_offsets(pends, projector_offsets)
    return {"caught_up": True, "seconds": round(time.monotonic() - started, 3)}


@router.get("/healthz", tags=["health"])
async def healthz():
    return {"status": "ok"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request):
    """Readiness: database and broker reachable, consumer lag of the workers and the projector
    (records behind the log end), and partitions whose consumer has stalled; 503 if not ready."""
    hub = get_hub(request)
    checks: dict[str, Any] = {}
    ok = True
    try:
        await run_in_threadpool(lambda: hub.Session().execute(select(1)).close())
        checks["database"] = "ok"
    except Exception as exc:  # readiness reports, it does not raise
        ok, checks["database"] = False, f"error: {exc}"
    try:
        lag = await asyncio.wait_for(stage_lag(hub), timeout=5)
        checks["broker"] = "ok"
        checks["stalled"] = lag.pop("stalled")
        checks["lag"] = lag
        if checks["stalled"]["worker"] or checks["stalled"]["projector"]:
            ok = False
    except Exception as exc:
        ok, checks["broker"] = False, f"error: {exc!r}"
    return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/api/v1/schemas", tags=["schemas"])
async def schemas(request: Request, principal: Principal = Depends(require())):
    return {"items": get_hub(request).codec.schemas()}


@router.get("/api/v1/schemas/{fingerprint}", tags=["schemas"])
async def schema(fingerprint: str, request: Request, principal: Principal = Depends(require())):
    found = get_hub(request).codec.schema_by_fingerprint(fingerprint.lower())
    if found is None:
        raise HTTPException(404, f"no schema with fingerprint {fingerprint}")
    return found
