"""`zhongshu demo`: fill a running hub with realistic synthetic activity (zhongshu/synth.py).

    zhongshu up                       # in one terminal
    zhongshu demo --months 3          # in another, same directory

It loads the reference sets (PUT /api/v1/reference/{kind}), streams the generated months
through the intake API day by day in batches, appends a clock tick after every day (weekly in
the sparse prelude), waits for /api/v1/sync, then prints where to look: the console URL, a
supervisor key it created, and the leads per rule code next to what the generator planted.

The admin key comes from --key, or is created in the hub's own database the way
`zhongshu keys create --role admin` does (same settings: ./zhongshu.toml, ZHONGSHU_* and
./var/runtime.json). Records carry deterministic source_event_ids, so running the same demo
twice appends nothing new the second time.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from datetime import date

import httpx

from .synth import DEFAULT_END, LEAD_CODES, TRIGGER_CODES, generate

ROUTES = {
    "workorder": "/api/v1/intake/hotline/workorders",
    "inspection": "/api/v1/intake/enforcement/inspections",
    "case": "/api/v1/intake/enforcement/cases",
    "credit": "/api/v1/intake/credit/events",
    "transfer": "/api/v1/intake/justice/transfers",
}
RULE_NAMES = {
    "INSP_DUPLICATE": "重复检查", "INSP_MULTI_AGENCY": "多头检查", "INSP_NO_PLAN": "无计划检查",
    "INSP_NO_CODE": "未亮码检查", "INSP_UNCERTIFIED": "执法人员资格不符", "INSP_OVER_CAP": "超频检查",
    "PEN_SUMMARY_LIMIT": "简易程序超限", "PEN_DECISION_OVERDUE": "办案超期", "PEN_NO_LEGAL_REVIEW": "未经法制审核",
    "PEN_NOT_RECORDED": "重大处罚未备案", "PEN_DISCRETION": "裁量越档", "PEN_FIRST_VIOLATION": "应免未免",
    "PEN_PUBLICITY_LATE": "公示超期", "PEN_PUBLICITY_SCOPE": "超范围公示", "PEN_PUBLICITY_STALE": "公示未及时撤下",
    "XFER_SUBSTITUTION": "以罚代刑", "XFER_APPROVAL_LATE": "移送审批超期", "XFER_POLICE_NO_DECISION": "公安未及时立案",
    "HOT_ENFORCEMENT_COMPLAINT": "执法投诉印证", "HOT_COMPLAINT_CLUSTER": "投诉集中未处置",
    "AGY_FINE_SURGE": "罚没异常增长", "CR_REPAIR_SLA": "信用修复办理超时",
    "CR_REPAIR_ELIGIBLE": "可申请信用修复", "CR_PUBLICITY_EXPIRED": "公示期满应撤下",
    "CR_WITHDRAW_NOT_PUBLISHABLE": "不应公示应撤下", "CR_WITHDRAW_REVOKED": "决定撤销应撤下",
}


class DemoError(RuntimeError):
    pass


def register(subparsers, settings_loader) -> None:
    p = subparsers.add_parser("demo", help="stream realistic synthetic activity into a running hub")
    p.add_argument("--seed", type=int, default=7, help="generator seed (same seed, same data)")
    p.add_argument("--months", type=int, default=3, help="months of dense activity (at least 2)")
    p.add_argument("--enterprises", type=int, default=120, help="enterprises in the population")
    p.add_argument("--end", default=DEFAULT_END.isoformat(), help="last simulated day (YYYY-MM-DD)")
    p.add_argument("--url", help="API base URL (default: the running `zhongshu up`)")
    p.add_argument("--key", help="admin API key (default: create one in the hub's database)")
    p.add_argument("--batch", type=int, default=250, help="records per intake request")
    p.add_argument("--sync-timeout", type=float, default=600)
    p.add_argument("--fast", action="store_true",
                   help="do not wait for /api/v1/sync before each tick (faster; deadlines may then be judged "
                        "before forwarded facts arrive)")
    p.set_defaults(func=lambda args: cmd_demo(args, settings_loader))


def _create_key(settings, role: str, label: str) -> str:
    from sqlalchemy.orm import Session

    from projections.auth import create_key
    from projections.db import make_engine
    from projections.schema import ensure_schema

    engine = make_engine(settings.db_url)
    try:
        ensure_schema(engine)
        with Session(engine) as session, session.begin():
            return create_key(session, role, None, label)
    finally:
        engine.dispose()


def cmd_demo(args, settings_loader) -> int:
    try:
        return run_demo(args, settings_loader)
    except DemoError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def run_demo(args, settings_loader, out=sys.stdout) -> int:
    settings = settings_loader(args)
    url = (args.url or f"http://{settings.api_host}:{settings.api_port}").rstrip("/")
    try:
        end = date.fromisoformat(args.end)
    except ValueError:
        raise DemoError(f"--end {args.end!r}: expected YYYY-MM-DD")
    try:
        data = generate(seed=args.seed, months=args.months, enterprises=args.enterprises, end=end)
    except ValueError as exc:
        raise DemoError(str(exc))
    key = args.key or _create_key(settings, "admin", "zhongshu demo")
    client = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120)
    try:
        client.get("/healthz").raise_for_status()
    except httpx.HTTPError as exc:
        raise DemoError(f"no hub answering at {url} ({exc}); start `zhongshu up` or pass --url")
    started = time.monotonic()
    print(f"zhongshu demo: seed {args.seed}, {data.start} … {data.end} (prelude from {data.prelude_start}), "
          f"{len(data.enterprises)} enterprises, {len(data.agencies)} agencies → {url}", file=out, flush=True)

    for kind, rows in data.reference.items():
        r = _call(client, "PUT", f"/api/v1/reference/{kind}", rows)
        if r.status_code != 200:
            raise DemoError(f"PUT /api/v1/reference/{kind}: {r.status_code} {r.text[:2000]}")
    print(f"reference data: {', '.join(f'{k} {len(v)}' for k, v in data.reference.items())}", file=out, flush=True)

    stats = stream(client, data, args.batch, out, settle=not args.fast)
    streamed = time.monotonic() - started

    print("waiting for the workers and the projector (/api/v1/sync) …", file=out, flush=True)
    synced = _sync(client, args.sync_timeout)

    leads = Counter(item["rule_code"] for item in _pages(client, "/api/v1/leads"))
    triggers = Counter(item["code"] for item in _pages(client, "/api/v1/credit/triggers"))
    supervisor = None
    try:
        supervisor = _create_key(settings, "supervisor", "zhongshu demo console")
    except Exception as exc:  # e.g. --url of a hub whose database this machine cannot reach
        print(f"(could not create a supervisor key here: {exc}; the admin key also signs in)", file=out)
    report(data, stats, leads, triggers, out)
    print(f"\nstreamed {stats['records']} records ({stats['accepted']} new, {stats['duplicates']} already there) "
          f"and {stats['ticks']} ticks in {streamed:.1f}s; caught up in {synced:.1f}s", file=out)
    print(f"console:        {url}/console", file=out)
    if supervisor:
        print(f"supervisor key: {supervisor}", file=out)
    if not args.key:
        print(f"admin key:      {key}", file=out)
    print(f"leads:          curl -H 'Authorization: Bearer <key>' {url}/api/v1/leads", file=out, flush=True)
    return 0


def _call(client: httpx.Client, method: str, path: str, body, tries: int = 8) -> httpx.Response:
    """One request, retried while the hub answers 503 (broker not ready) or the connection drops."""
    delay = 0.5
    for attempt in range(tries):
        try:
            r = client.request(method, path, json=body)
        except httpx.TransportError:
            if attempt == tries - 1:
                raise
        else:
            if r.status_code != 503:
                return r
        time.sleep(delay)
        delay = min(delay * 2, 10)
    return r


def _sync(client: httpx.Client, timeout: float) -> float:
    t0 = time.monotonic()
    while True:
        r = client.get("/api/v1/sync", params={"timeout": min(timeout, 120)}, timeout=min(timeout, 120) + 30)
        if r.status_code == 200:
            return time.monotonic() - t0
        if r.status_code != 504 or time.monotonic() - t0 > timeout:
            raise DemoError(f"/api/v1/sync: {r.status_code} {r.text[:500]}")


def stream(client: httpx.Client, data, batch: int, out, settle: bool = True) -> dict:
    """Append the records day by day (each kind's records of a day in order, in batches of
    `batch`), with the clock tick that closes the day appended after them.

    With `settle`, each tick waits for /api/v1/sync first: the worker holds a tick back until
    it has read the ingress topics up to the tick, but the case facts it forwards to the
    enterprise and agency key spaces are appended later than the tick, so without the wait a
    deadline could be judged before a publication that was on time (a false 公示超期)."""
    from tqdm import tqdm

    total = sum(1 for i in data.items if i.kind != "tick")
    stats = {"records": 0, "accepted": 0, "duplicates": 0, "ticks": 0}
    pending: dict[str, list[dict]] = {}

    def flush():
        for kind in ROUTES:
            rows = pending.pop(kind, [])
            for i in range(0, len(rows), batch):
                chunk = rows[i:i + batch]
                r = _call(client, "POST", ROUTES[kind], chunk)
                if r.status_code not in (200, 202):
                    raise DemoError(f"POST {ROUTES[kind]}: {r.status_code} {r.text[:3000]}")
                body = r.json()
                stats["accepted"] += len(body.get("accepted", []))
                stats["duplicates"] += len(body.get("duplicates", []))
                stats["records"] += len(chunk)
                bar.update(len(chunk))

    with tqdm(total=total, unit="rec", desc="streaming", file=out, dynamic_ncols=True, mininterval=0.5) as bar:
        for item in data.items:
            if item.kind == "tick":
                flush()
                if settle:
                    _sync(client, 300)
                r = _call(client, "POST", "/api/v1/clock/ticks", item.record)
                if r.status_code != 202:
                    raise DemoError(f"POST /api/v1/clock/ticks: {r.status_code} {r.text[:500]}")
                stats["ticks"] += 1
                bar.set_postfix_str(item.record["at"][:10], refresh=False)
            else:
                pending.setdefault(item.kind, []).append(item.record)
        flush()
    return stats


def _pages(client: httpx.Client, path: str):
    page = 1
    while page:
        r = client.get(path, params={"page": page, "page_size": 500})
        if r.status_code == 404 and page == 1:
            return  # endpoint not deployed on this hub
        r.raise_for_status()
        body = r.json()
        yield from body.get("items", [])
        page = body.get("next_page")


def report(data, stats, leads: Counter, triggers: Counter, out) -> None:
    expected = data.expected()
    print(f"\n{'code':<28}名称{' ' * 14}{'planted':>8}{'near-miss':>10}{'raised':>8}", file=out)
    for code in (*LEAD_CODES, *TRIGGER_CODES):
        got = (triggers if code in TRIGGER_CODES else leads).get(code, 0)
        e = expected[code]
        flag = "" if got >= e["fire"] else "   ← fewer than planted"
        name = RULE_NAMES.get(code, "")
        pad = 18 - 2 * len(name)  # CJK characters take two columns
        print(f"{code:<28}{name}{' ' * max(1, pad)}{e['fire']:>8}{e['quiet']:>10}{got:>8}{flag}", file=out)
    other = sorted(set(leads) - set(LEAD_CODES))
    if other:
        print("other codes: " + ", ".join(f"{c} {leads[c]}" for c in other), file=out)
    print(f"total leads {sum(leads.values())}, credit triggers {sum(triggers.values())}", file=out)
