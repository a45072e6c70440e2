"""Shared pieces of the fault-injection tests: a load with a known set of leads, a client that
retries what failed, readers of whole topics, a clean-rebuild comparison, and the figures file
docs/RELIABILITY.md is filled from."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from kafka import KafkaConsumer, TopicPartition
from sqlalchemy import create_engine, text

from connectors.uscc import make_uscc
from schemas.codec import Codec, header_dict

REPO = Path(__file__).resolve().parents[2]
RESULTS = Path(os.environ.get("ZHONGSHU_RELIABILITY_DIR") or REPO / "tests" / "faults" / "results")
REGION = "330203"
INSPECTIONS = "/api/v1/intake/enforcement/inspections"
CODEC = Codec()


def uid(n: int = 6) -> str:
    return uuid.uuid4().hex[:n].upper().replace("I", "1").replace("O", "0")


def record(name: str, **figures) -> None:
    """Figures of one test for docs/RELIABILITY.md (tests/faults/results/<name>.json)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    figures["recorded_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, ensure_ascii=False, indent=2, default=str) + "\n")


# ---------------------------------------------------------------- a load with known leads

def officers(agency: str) -> list[str]:
    """Two certified officers of an agency (a certificate belongs to one agency)."""
    return [f"浙执{agency[8:17]}1", f"浙执{agency[8:17]}2"]


@dataclass
class Load:
    """Per enterprise two inspections by one agency ten days apart, the second without 行政行为码:
    exactly one INSP_DUPLICATE (subject: the enterprise) and one INSP_NO_CODE (evidence: the
    second inspection) each. Officers and plans are registered and no risk class is given, so
    no other inspection rule fires."""

    enterprises: int
    agencies: list[str] = field(default_factory=lambda: [make_uscc("11330203" + uid(9)) for _ in range(4)])
    tag: str = field(default_factory=lambda: uid(6))
    records: list[dict] = field(default_factory=list)
    expected: set = field(default_factory=set)

    def __post_init__(self):
        for i in range(self.enterprises):
            uscc = make_uscc("91330203MA" + uid(7))
            agency = self.agencies[i % len(self.agencies)]
            first = self._inspection(uscc, agency, "2026-05-04", code=True)
            second = self._inspection(uscc, agency, "2026-05-14", code=False)
            self.records += [first, second]
            self.expected.add(("INSP_DUPLICATE", uscc))
            self.expected.add(("INSP_NO_CODE", second["source_event_id"]))

    def _inspection(self, uscc: str, agency: str, day: str, code: bool) -> dict:
        n = f"{self.tag}-{uid(10)}"
        rec = {
            "source_event_id": f"fault-insp-{n}", "inspection_id": f"JC-{n}", "agency_code": agency,
            "joint_agency_codes": [], "officer_cert_nos": officers(agency),
            "target": {"uscc": uscc, "name": "宁波市海曙区故障注入测试有限公司"}, "region_code": REGION,
            "started_at": f"{day}T09:30:00+08:00", "trigger": "双随机", "plan_id": "JH-FAULT-2026", "random": True,
            "credit_rule_applied": True, "items": ["食品经营许可"], "result": "未发现问题",
        }
        if code:
            rec["action_code"] = f"XZJC-{n}"
        return rec

    @property
    def sids(self) -> set[str]:
        return {r["source_event_id"] for r in self.records}

    def register(self, admin: httpx.Client, extra_agencies=()) -> None:
        agencies = [*self.agencies, *extra_agencies]
        for kind, items in {
            "officers": [{"cert_no": c, "agency_code": a, "valid_from": "2020-01-01", "valid_until": "2030-12-31"}
                         for a in agencies for c in officers(a)],
            "inspection-plans": [{"plan_id": "JH-FAULT-2026", "agency_code": a, "year": 2026} for a in agencies],
        }.items():
            r = admin.put(f"/api/v1/reference/{kind}", json=items)
            assert r.status_code == 200, r.text

    def found(self, leads: list[dict]) -> Counter:
        """(rule, subject) of each lead of this load, counted: every count must be 1."""
        mine = Counter()
        for lead in leads:
            if lead["agency_code"] not in self.agencies:
                continue
            if lead["rule_code"] == "INSP_NO_CODE":
                mine[("INSP_NO_CODE", lead["evidence"][0]["ce_id"])] += 1
            elif lead["rule_code"] == "INSP_DUPLICATE":
                mine[("INSP_DUPLICATE", lead["subject"]["id"])] += 1
            else:
                mine[(lead["rule_code"], lead["subject"]["id"])] += 1
        return mine


def all_leads(client: httpx.Client, agencies) -> list[dict]:
    out = []
    for agency in agencies:
        page = 1
        while page:
            r = client.get("/api/v1/leads", params={"agency_code": agency, "page": page, "page_size": 500})
            assert r.status_code == 200, r.text
            out += r.json()["items"]
            page = r.json()["next_page"]
    return out


def check_leads(load: Load, client: httpx.Client) -> dict:
    """The projection holds exactly the expected leads, each once; returns the figures."""
    leads = all_leads(client, load.agencies)
    found = load.found(leads)
    missing = load.expected - set(found)
    extra = set(found) - load.expected
    doubled = {k: n for k, n in found.items() if n > 1}
    assert not missing, f"{len(missing)} expected lead(s) missing, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} unexpected lead(s), e.g. {sorted(extra)[:3]}"
    assert not doubled, f"{len(doubled)} lead(s) projected more than once, e.g. {list(doubled.items())[:3]}"
    ids = [lead["lead_id"] for lead in leads]
    assert len(ids) == len(set(ids))
    return {"leads_expected": len(load.expected), "leads_projected": len(leads), "leads_missing": 0,
            "leads_doubled_in_projection": 0}


# ---------------------------------------------------------------- posting with retries

class Poster:
    """Posts lists of records from `threads` concurrent clients and retries every failure
    (connection refused or reset, 5xx, 429) until the hub answers 200/202 — a source system's
    side of at-least-once."""

    def __init__(self, url: str, key: str, path: str = INSPECTIONS, batch: int = 10, threads: int = 3,
                 give_up: float = 300, pace: float | None = None):
        self.url, self.key, self.path, self.batch, self.threads, self.give_up = url, key, path, batch, threads, give_up
        self.pace = pace  # records per second to hold, so the load lasts; None = as fast as the hub takes them
        self.statuses: Counter = Counter()
        self.retries = 0
        self.acked: dict[str, tuple[int, int]] = {}
        self.unpositioned: list[str] = []
        self.posted = 0
        self.elapsed = 0.0
        self._lock = threading.Lock()

    def _send(self, client: httpx.Client, chunk: list[dict]) -> None:
        deadline = time.monotonic() + self.give_up
        while True:
            assert time.monotonic() < deadline, f"gave up posting after {self.give_up}s: {self.statuses}"
            try:
                r = client.post(self.path, json=chunk)
            except httpx.TransportError as exc:
                with self._lock:
                    self.statuses[type(exc).__name__] += 1
                    self.retries += 1
                time.sleep(0.5)
                continue
            with self._lock:
                self.statuses[r.status_code] += 1
            if r.status_code in (200, 202):
                body = r.json()
                with self._lock:
                    for a in body["accepted"] + body["duplicates"]:
                        if a["offset"] is None:  # "appended before", but where? (checked against the log later)
                            self.unpositioned.append(a["source_event_id"])
                        self.acked[a["source_event_id"]] = (a["partition"], a["offset"])
                return
            if r.status_code in (429, 500, 502, 503, 504):
                with self._lock:
                    self.retries += 1
                time.sleep(min(float(r.headers.get("retry-after") or 1), 3.0))
                continue
            raise AssertionError(f"{r.status_code}: {r.text[:500]}")

    def post(self, records: list[dict], on_progress=None) -> None:
        started = time.monotonic()
        chunks = [records[i:i + self.batch] for i in range(0, len(records), self.batch)]
        self.taken = 0
        errors: list[BaseException] = []

        def run():
            client = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=60)
            try:
                while not errors:
                    with self._lock:
                        if not chunks:
                            return
                        chunk = chunks.pop(0)
                        due = started + (self.taken / self.pace if self.pace else 0)
                        self.taken += len(chunk)
                    time.sleep(max(0.0, due - time.monotonic()))
                    self._send(client, chunk)
                    with self._lock:
                        self.posted += len(chunk)
                        posted = self.posted
                    if on_progress:
                        on_progress(posted)
            except BaseException as exc:
                errors.append(exc)
            finally:
                client.close()

        workers = [threading.Thread(target=run, daemon=True) for _ in range(self.threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        self.elapsed += time.monotonic() - started
        if errors:
            raise errors[0]

    @property
    def rate(self) -> float:
        return round(self.posted / self.elapsed, 1) if self.elapsed else 0.0


# ---------------------------------------------------------------- the log

def read_topic(bootstrap: str, topic: str, decode: bool = False) -> list:
    """Every record of a topic as (ce_id, key, value or decoded value, partition, offset)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        out = []
        deadline = time.monotonic() + 120
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"could not read {topic} to its end"
            for tp, msgs in consumer.poll(timeout_ms=1000, max_records=5000).items():
                for m in msgs:
                    if m.offset >= ends[tp]:
                        continue
                    value = m.value
                    if decode:
                        try:
                            value = CODEC.decode(m.value)[1]
                        except Exception:
                            value = None
                    out.append((header_dict(m.headers or []).get("ce_id"), m.key, value, m.partition, m.offset))
        return out
    finally:
        consumer.close()


def ce_id_counts(bootstrap: str, topic: str, sids: set[str]) -> Counter:
    return Counter(ce for ce, *_ in read_topic(bootstrap, topic) if ce in sids)


def check_log(load: Load, bootstrap: str, exactly_once: bool = True) -> dict:
    """Every input is on its topic (exactly once when intake alone wrote it)."""
    counts = ce_id_counts(bootstrap, "enforcement.inspections", load.sids)
    missing = load.sids - set(counts)
    assert not missing, f"{len(missing)} accepted record(s) not on the topic, e.g. {sorted(missing)[:3]}"
    doubled = {k: n for k, n in counts.items() if n > 1}
    if exactly_once:
        assert not doubled, f"{len(doubled)} record(s) on the topic more than once, e.g. {list(doubled.items())[:3]}"
    return {"records_on_topic": sum(counts.values()), "records_lost": 0, "records_doubled_on_topic": len(doubled)}


def lead_records(load: Load, bootstrap: str) -> dict:
    """supervision.leads as consumers see it: duplicates are allowed, a lead id set is not to differ."""
    ids = Counter()
    for _, _, value, _, _ in read_topic(bootstrap, "supervision.leads", decode=True):
        if value and value.get("agency_code") in load.agencies:
            ids[value["lead_id"]] += 1
    return {"lead_ids_on_topic": len(ids), "lead_records_on_topic": sum(ids.values()),
            "lead_records_repeated_on_topic": sum(n - 1 for n in ids.values())}


def intake_log(hub) -> dict:
    """What intake's API log says it recovered: claims found in the log, claims appended after a
    check, producers replaced after a broken idempotence state."""
    text = hub.log("api")
    return {"positions_recovered": text.count("position recovered"),
            "appended_after_check": text.count("not in the log; appending it now"),
            "producers_renewed": text.count("a new producer took over")}


# ---------------------------------------------------------------- processes

def child_pid(parent: int, needle: str, wait: float = 0) -> int:
    deadline = time.monotonic() + wait
    while True:
        out = subprocess.run(["pgrep", "-P", str(parent), "-f", needle], capture_output=True, text=True).stdout.split()
        if out:
            return int(out[0])
        if time.monotonic() >= deadline:
            raise AssertionError(f"no child of {parent} matching {needle!r}")
        time.sleep(0.2)


def kill9(parent: int, needle: str) -> int:
    pid = child_pid(parent, needle, wait=30)
    os.kill(pid, signal.SIGKILL)
    return pid


def wait_restarted(parent: int, needle: str, old: int, wait: float = 60) -> int:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            pid = child_pid(parent, needle)
            if pid != old:
                return pid
        except AssertionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"`up` did not restart {needle!r} within {wait}s")


def wait_answering(url: str, wait: float = 60) -> None:
    """Until the API at `url` answers /healthz. A restarted API process exists some time before
    it listens: a request in between is refused (the last kill of a run can land after the
    poster's last request, so nothing else has waited for the new process)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the API at {url} did not answer within {wait}s")


class At:
    """Runs each `action` once, on a thread of its own, when progress reaches its mark — while
    the posting threads go on, so a kill lands in the middle of requests, not between them."""

    def __init__(self, *steps):
        self.steps = sorted(steps, key=lambda s: s[0])
        self.done: list = []
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __call__(self, posted: int):
        with self._lock:
            due = [s for s in self.steps if posted >= s[0]]
            self.steps = [s for s in self.steps if posted < s[0]]
        for when, action in due:
            t = threading.Thread(target=lambda w=when, a=action: self.done.append((w, a())), daemon=True)
            t.start()
            self.threads.append(t)

    def join(self, timeout: float = 120) -> None:
        for t in self.threads:
            t.join(timeout)


def in_thread(fn, *args) -> threading.Thread:
    errors: list = []

    def run():
        try:
            fn(*args)
        except BaseException as exc:  # surfaced by join()
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.errors = errors
    t.start()
    return t


# ---------------------------------------------------------------- clean rebuild

IGNORED_COLUMNS = {"change_seq"}  # the SSE cursor: numbered per projector batch, not part of the data


def projected_tables() -> list[str]:
    from projections.models import Base

    return [t.name for t in Base.metadata.sorted_tables if t.info.get("projected")]


def dump(db_url: str) -> dict[str, list[tuple]]:
    engine = create_engine(db_url)
    try:
        out = {}
        with engine.connect() as conn:
            for name in projected_tables():
                rows = conn.execute(text(f'SELECT * FROM "{name}"')).mappings().all()
                out[name] = sorted(json.dumps({k: v for k, v in r.items() if k not in IGNORED_COLUMNS},
                                              sort_keys=True, default=str, ensure_ascii=False) for r in rows)
        return out
    finally:
        engine.dispose()


def rebuild_and_compare(hub, pg_server) -> dict:
    """`zhongshu projections rebuild` into a fresh database from the same log; every projected
    table must equal the live one row for row (offsets included)."""
    fresh = pg_server.create_database(f"rebuild_{uid(8).lower()}")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "zhongshu.cli", "projections", "rebuild", "--no-progress",
                           "--database-url", fresh], cwd=hub.cwd, env=hub.env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    live, rebuilt = dump(hub.db_url), dump(fresh)
    for name in projected_tables():
        a, b = set(live[name]), set(rebuilt[name])
        assert a == b, (f"{name}: {len(a - b)} row(s) only live, {len(b - a)} only rebuilt; "
                        f"e.g. live {sorted(a - b)[:1]} rebuilt {sorted(b - a)[:1]}")
    return {"rebuild_seconds": round(time.monotonic() - started, 1),
            "rebuild_rows_compared": sum(len(v) for v in live.values()), "rebuild_differences": 0}
