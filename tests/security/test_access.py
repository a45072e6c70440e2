"""Access control on the running hub: keys on every route, roles on every route, region scope
on reads and actions, keys stored only as hashes, staff actions audited as events."""
from __future__ import annotations

import hashlib
import re
import subprocess

import httpx
import pytest

from connectors.uscc import make_uscc
from tests.faults.support import officers, read_topic, record, uid

from .conftest import as_role

pytestmark = pytest.mark.integration

PUBLIC = {"/healthz", "/readyz", "/metrics"}  # liveness, readiness and metrics: for probes, no data
# served without a key and holding no data: the API's own description and the console's static shell
# (the console calls the API with a key the user enters)
DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/console", "/console/"}

ROLES = ("hotline", "credit", "enforcement", "justice", "supervisor", "admin")
ANY = set(ROLES)
STAFF = {"supervisor", "admin"}

# Who may call what (admin everything). Source systems post only their own intake; supervisors
# read leads, enterprise files and indicators and act on leads; the credit platform reads credit
# triggers and its webhook deliveries. As built: enforcement systems also read enterprise files
# and indicators, the credit platform enterprise files, and every key may wait on /sync and read
# the Avro schemas (they describe the topics a source writes to).
POLICY: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/intake/hotline/workorders"): {"hotline", "admin"},
    ("POST", "/api/v1/intake/enforcement/inspections"): {"enforcement", "admin"},
    ("POST", "/api/v1/intake/enforcement/cases"): {"enforcement", "admin"},
    ("POST", "/api/v1/intake/credit/events"): {"credit", "admin"},
    ("POST", "/api/v1/intake/justice/transfers"): {"justice", "admin"},
    ("PUT", "/api/v1/reference/{kind}"): {"admin"},
    ("POST", "/api/v1/clock/ticks"): {"admin"},
    ("GET", "/api/v1/sync"): ANY,
    ("GET", "/api/v1/schemas"): ANY,
    ("GET", "/api/v1/schemas/{fingerprint}"): ANY,
    ("GET", "/api/v1/enterprises/{uscc}"): STAFF | {"enforcement", "credit"},
    ("GET", "/api/v1/enterprises/{uscc}/timeline"): STAFF | {"enforcement", "credit"},
    ("GET", "/api/v1/credit/triggers"): STAFF | {"credit"},
    ("GET", "/api/v1/leads"): STAFF,
    ("GET", "/api/v1/leads/stream"): STAFF,
    ("GET", "/api/v1/leads/{lead_id}"): STAFF,
    ("POST", "/api/v1/leads/{lead_id}/claim"): STAFF,
    ("POST", "/api/v1/leads/{lead_id}/resolve"): STAFF,
    ("POST", "/api/v1/leads/{lead_id}/dismiss"): STAFF,
    ("POST", "/api/v1/leads/{lead_id}/reopen"): STAFF,
    ("GET", "/api/v1/indicators"): STAFF | {"enforcement"},
    ("GET", "/api/v1/webhooks/subscribers"): {"admin"},
    ("POST", "/api/v1/webhooks/subscribers"): {"admin"},
    ("DELETE", "/api/v1/webhooks/subscribers/{subscriber_id}"): {"admin"},
    ("GET", "/api/v1/webhooks/deliveries"): {"credit", "admin"},
    ("GET", "/api/v1/webhooks/deliveries/{delivery_id}"): {"credit", "admin"},
    ("POST", "/api/v1/webhooks/deliveries/{delivery_id}/retry"): {"admin"},
    ("GET", "/api/v1/credit/triggers/{trigger_id}/deliveries"): {"credit", "admin"},
    ("GET", "/console/api/directory"): STAFF,
}


def operations(hub) -> list[tuple[str, str]]:
    spec = httpx.get(hub.url + "/openapi.json", timeout=30).json()
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m in ("get", "post", "put", "delete"))


def harmless_request(client: httpx.Client, method: str, path: str) -> httpx.Response:
    """A call that changes nothing when allowed: unknown ids, empty or invalid bodies."""
    url = re.sub(r"\{[^}]+\}", lambda m: {"{kind}": "officers", "{fingerprint}": "0" * 16,
                                            "{uscc}": "91330203MA2A000009"}.get(m.group(0), "no-such-id"), path)
    params = {"timeout": 0} if path == "/api/v1/sync" else None
    if path == "/api/v1/leads/stream":
        with client.stream("GET", url, timeout=10) as r:
            return r
    if method in ("POST", "PUT"):
        body = ({"version": 1} if "/leads/" in path else {"at": "not a time"} if "clock" in path
                else {"not": "a list"} if "/reference/" in path else [])
        return client.request(method, url, json=body, params=params)
    return client.request(method, url, params=params)


def test_every_operation_but_health_needs_a_key(sec_hub):
    ops = operations(sec_hub)
    assert set(ops) == set(POLICY) | {("GET", p) for p in PUBLIC if ("GET", p) in ops}, \
        f"routes without a policy here: {sorted(set(ops) - set(POLICY))}"
    anon = httpx.Client(base_url=sec_hub.url, timeout=30)
    bad = [("no header", {}), ("unknown key", {"Authorization": "Bearer zs_000000000000_" + "x" * 32}),
           ("not bearer", {"Authorization": "Basic YWRtaW46YWRtaW4="}), ("empty bearer", {"Authorization": "Bearer"})]
    checked = 0
    for method, path in ops:
        if path in PUBLIC:
            assert harmless_request(anon, method, path).status_code in (200, 503), path
            continue
        for what, headers in bad:
            anon.headers.clear()
            anon.headers.update(headers)
            r = harmless_request(anon, method, path)
            assert r.status_code == 401, f"{method} {path} with {what}: {r.status_code}"
            checked += 1
    # the documentation and the console shell are served without a key and hold no data
    for path in sorted(DOCS):
        r = httpx.get(sec_hub.url + path, timeout=30)
        assert r.status_code in (200, 307, 404), (path, r.status_code)
    record("security_keys", operations=len(ops), public=sorted(PUBLIC), unauthenticated_requests=checked,
           all_answered_401=True)


def test_every_role_may_call_exactly_what_its_policy_allows(sec_hub):
    clients = {role: as_role(sec_hub, role) for role in ROLES}
    clients["supervisor (district)"] = as_role(sec_hub, "supervisor", region="330203")
    matrix = {}
    for method, path in operations(sec_hub):
        if path in PUBLIC:
            continue
        for name, client in clients.items():
            role = name.split()[0]
            r = harmless_request(client, method, path)
            allowed = role in POLICY[(method, path)] or role == "admin"
            if allowed:
                assert r.status_code not in (401, 403), f"{name} {method} {path}: {r.status_code} {r.text[:200]}"
            else:
                assert r.status_code == 403, f"{name} {method} {path}: {r.status_code} (expected 403)"
            matrix[f"{method} {path}"] = sorted(set(matrix.get(f"{method} {path}", [])) | ({role} if allowed else set()))
    record("security_roles", calls=len(matrix) * len(clients), matrix=matrix)


# ---------------------------------------------------------------- region scope

def _inspection(enterprise, agency, region, code=False) -> dict:
    n = uid(10)
    rec = {"source_event_id": f"scope-{n}", "inspection_id": f"JC-{n}", "agency_code": agency,
           "joint_agency_codes": [], "officer_cert_nos": officers(agency),
           "target": {"uscc": enterprise, "name": "宁波市辖区测试有限公司"}, "region_code": region,
           "started_at": "2026-06-02T09:30:00+08:00", "trigger": "投诉举报", "random": False,
           "credit_rule_applied": False, "items": ["食品经营许可"], "result": "未发现问题"}
    if code:
        rec["action_code"] = f"XZJC-{n}"
    return rec


@pytest.fixture(scope="module")
def two_districts(sec_hub):
    """An INSP_NO_CODE lead and an enterprise file in 海曙 (330203) and in 鄞州 (330212)."""
    enforcement = as_role(sec_hub, "enforcement")
    here, there = make_uscc("91330203MA" + uid(7)), make_uscc("91330212MA" + uid(7))
    a_here, a_there = make_uscc("11330203" + uid(9)), make_uscc("11330212" + uid(9))
    r = enforcement.post("/api/v1/intake/enforcement/inspections",
                         json=[_inspection(here, a_here, "330203"), _inspection(there, a_there, "330212")])
    assert r.status_code == 202, r.text
    sec_hub.sync(timeout=300)
    admin = as_role(sec_hub, "admin")
    leads = {}
    for region, agency in (("330203", a_here), ("330212", a_there)):
        got = admin.get("/api/v1/leads", params={"agency_code": agency, "rule_code": "INSP_NO_CODE"}).json()["items"]
        assert len(got) == 1, got
        leads[region] = got[0]
    return {"uscc": {"330203": here, "330212": there}, "lead": leads}


def test_region_scope_limits_reads_and_actions_and_hides_the_rest_as_404(sec_hub, two_districts):
    district, city, other = (as_role(sec_hub, "supervisor", region=r) for r in ("330203", "330200", "330212"))
    here, there = two_districts["lead"]["330203"], two_districts["lead"]["330212"]
    u_here, u_there = two_districts["uscc"]["330203"], two_districts["uscc"]["330212"]
    checks = 0

    def expect(client, method, path, status, **kw):
        nonlocal checks
        r = client.request(method, path, **kw)
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:200]}"
        checks += 1
        return r

    for client, sees in ((district, {"330203"}), (city, {"330203", "330212"}), (other, {"330212"})):
        for region, lead, uscc in (("330203", here, u_here), ("330212", there, u_there)):
            ok = region in sees
            expect(client, "GET", f"/api/v1/leads/{lead['lead_id']}", 200 if ok else 404)
            expect(client, "GET", f"/api/v1/enterprises/{uscc}", 200 if ok else 404)
            expect(client, "GET", f"/api/v1/enterprises/{uscc}/timeline", 200 if ok else 404)
            listed = {l["lead_id"] for l in client.get("/api/v1/leads", params={"rule_code": "INSP_NO_CODE",
                                                                               "page_size": 500}).json()["items"]}
            assert (lead["lead_id"] in listed) == ok
        expect(client, "GET", "/api/v1/indicators", 404, params={"region_code": "330100"})  # another city

    # an action on a lead outside the key's scope is refused as if the lead did not exist, and appends nothing
    def actions() -> int:
        return len([r for r in read_topic(sec_hub.bootstrap, "supervision.lead-actions", decode=True)
                    if r[2] and r[2]["lead_id"] in (there["lead_id"], here["lead_id"])])

    before = actions()
    expect(district, "POST", f"/api/v1/leads/{there['lead_id']}/claim", 404, json={"version": 1})
    expect(other, "POST", f"/api/v1/leads/{here['lead_id']}/claim", 404, json={"version": 1})
    assert actions() == before
    record("security_region_scope", checks=checks + 2, keys=["330203 (district)", "330200 (city)", "330212 (district)"])


def test_staff_actions_are_events_on_the_log_naming_the_actor(sec_hub, two_districts):
    label = f"监督员{uid(4)}"
    staff = as_role(sec_hub, "supervisor", region="330203", label=label)
    key_id = staff.key.split("_")[1]
    lead = two_districts["lead"]["330203"]
    claimed = staff.post(f"/api/v1/leads/{lead['lead_id']}/claim", json={"version": 1, "note": "核查中"})
    assert claimed.status_code == 202, claimed.text
    resolved = staff.post(f"/api/v1/leads/{lead['lead_id']}/resolve", json={"version": 2, "outcome": "已督促整改"})
    assert resolved.status_code == 202, resolved.text
    events = [v for _, _, v, _, _ in read_topic(sec_hub.bootstrap, "supervision.lead-actions", decode=True)
              if v and v["lead_id"] == lead["lead_id"]]
    assert [(e["action"], e["actor"], e["version"]) for e in events] == [
        ("claimed", f"{label}#{key_id}", 1), ("resolved", f"{label}#{key_id}", 2)]
    sec_hub.sync(timeout=120)
    history = staff.get(f"/api/v1/leads/{lead['lead_id']}").json()["history"]
    assert [(h["action"], h["actor"]) for h in history][1:] == [("claimed", f"{label}#{key_id}"),
                                                                ("resolved", f"{label}#{key_id}")]


# ---------------------------------------------------------------- keys at rest

def pg_dump(hub) -> str:
    from zhongshu.localpg import pg_bin_dir

    done = subprocess.run([str(pg_bin_dir() / "pg_dump"), "--no-owner", "-d",
                           hub.db_url.replace("postgresql+psycopg://", "postgresql://")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_keys_are_stored_only_as_sha256_hashes(sec_hub):
    keys = {role: as_role(sec_hub, role).key for role in ROLES}
    for key in keys.values():  # used once, so any cache or log had its chance to keep it
        httpx.get(sec_hub.url + "/api/v1/schemas", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    dump = pg_dump(sec_hub)
    logs = "".join(p.read_text(errors="replace") for p in (sec_hub.cwd / "var" / "logs").glob("*.log"))
    for role, key in keys.items():
        secret_part = key.split("_", 2)[2]
        assert key not in dump and secret_part not in dump, f"the {role} key is in the database dump"
        assert secret_part not in logs, f"the {role} key is in the logs"
        assert hashlib.sha256(key.encode()).hexdigest() in dump
    record("security_keys_at_rest", keys_created=len(keys), clear_keys_in_dump=0, clear_keys_in_logs=0)
