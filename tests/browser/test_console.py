"""The supervision console (/console) in a real browser: Debian's Chromium driven by Playwright.

One hub per module (`zhongshu up` against the test broker and a fresh PostgreSQL database),
filled by `zhongshu demo --months 2 --enterprises 60`; every test opens its own page at
1366×768. Screenshots go to tests/browser/artifacts/ for a person to look at.
Skipped only when /usr/bin/chromium is absent (install with deploy/browser-deps.sh).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import REPO, start_hub, stop_hub

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWPORT = {"width": 1366, "height": 768}
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.integration

if not CHROMIUM.exists():
    pytest.skip("/usr/bin/chromium is absent: run `bash deploy/browser-deps.sh` (Debian's chromium package)",
                allow_module_level=True)
playwright_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed "
                                                                 "(bash deploy/browser-deps.sh)")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, kafka_bootstrap, pg_server):
    """A running hub filled by `zhongshu demo`; yields (hub, supervisor key, admin client, demo output)."""
    if pg_server is None:
        db_url = os.environ["ZHONGSHU_TEST_DATABASE_URL"]
    else:
        db_url = pg_server.create_database(f"b_{uuid.uuid4().hex[:10]}")
    cwd = tmp_path_factory.mktemp("console-hub")
    hub = start_hub(cwd, {
        "ZHONGSHU_BROKER": kafka_bootstrap,
        "ZHONGSHU_DATABASE_URL": db_url,
        "ZHONGSHU_APP_ID": f"zhongshu-browser-{uuid.uuid4().hex[:8]}",
        "ZHONGSHU_TOKEN_SECRET": "browser-secret-" + uuid.uuid4().hex,
    })
    try:
        seed = str(int(uuid.uuid4().hex[:6], 16) % 90 + 10)  # topics are shared between tests: fresh ids
        done = subprocess.run([sys.executable, "-m", "zhongshu.cli", "demo", "--months", "2", "--enterprises", "60",
                               "--seed", seed, "--url", hub.url], cwd=cwd, env=hub.env, capture_output=True,
                              text=True, timeout=1200)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        key = re.search(r"supervisor key: (\S+)", done.stdout).group(1)
        (ARTIFACTS).mkdir(exist_ok=True)
        (ARTIFACTS / "demo-output.txt").write_text(re.sub(r"key: +\S+", "key: <redacted>", done.stdout))
        admin = hub.admin
        yield hub, key, admin, done.stdout
        admin.close()
    finally:
        stop_hub(hub)


@pytest.fixture(scope="module")
def browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, request):
    # bypass_csp: Playwright's wait_for_function evaluates strings, which the console's own CSP
    # (script-src 'self', no eval) forbids; the header itself is checked above
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai", bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.set_default_timeout(45_000)  # actions reach the page through Kafka and the projector: a loaded CI box is slow
    yield pg
    try:  # the page as the test left it: the first thing to look at when one fails
        ARTIFACTS.mkdir(exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / f"last-{request.node.name}.png"))
    except Exception:
        pass
    context.close()
    assert not errors, f"JavaScript errors in {request.node.name}: {errors}"


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def sign_in(page, hub, key):
    page.goto(f"{hub.url}/console/")
    page.fill("#key-input", key)
    page.press("#key-input", "Enter")
    page.wait_for_selector("#queue-body tr")


def rows(page) -> list[dict]:
    return page.eval_on_selector_all("#queue-body tr", """trs => trs.map(tr => ({
        id: tr.dataset.lead, cells: [...tr.cells].map(td => td.innerText.trim())}))""")


def settle(page):
    """Wait until the rows shown answer the filters in the location hash."""
    page.wait_for_function("""() => {
        const body = document.getElementById('queue-body');
        if (body.dataset.query === undefined) return false;
        const shown = new URLSearchParams(body.dataset.query);
        const wanted = new URLSearchParams(location.hash.split('?')[1] || '');
        const keys = ['rule_code', 'status', 'region_code', 'agency_code', 'grade'];
        return keys.every(k => (shown.get(k) || '') === (wanted.get(k) || ''));
    }""")


def assert_fits_width(page):
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"horizontal scrolling at 1366×768: page is {width}px wide"


# ------------------------------------------------------------------------------------------ tests

def test_console_is_served_without_external_resources(demo):
    hub, *_ = demo
    r = httpx.get(f"{hub.url}/console/")
    assert r.status_code == 200 and "监督工作台" in r.text
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for name in re.findall(r'(?:src|href)="([^"#]+)"', r.text):
        assert name.startswith("/console/"), f"{name} is not served by the hub"
        assert httpx.get(f"{hub.url}{name}").status_code == 200
    assert httpx.get(f"{hub.url}/console/../api.py").status_code == 404


def test_sign_in_rejects_a_bad_key_then_lists_the_leads(demo, page):
    hub, key, _, _ = demo
    page.goto(f"{hub.url}/console/")
    assert page.is_visible("#view-signin")
    assert page.evaluate("document.activeElement.id") == "key-input"
    shot(page, "01-signin")
    page.fill("#key-input", "zs_not_a_key")
    page.press("#key-input", "Enter")
    page.wait_for_function("document.getElementById('signin-error').textContent.includes('无效')")
    page.fill("#key-input", key)
    page.click("button[type=submit]")
    page.wait_for_selector("#queue-body tr")
    assert page.evaluate("sessionStorage.getItem('zhongshu.console.key')") == key
    listed = rows(page)
    assert len(listed) == 50  # the first page is full
    page.wait_for_function("document.getElementById('live').textContent.includes('已连接')")
    assert_fits_width(page)
    shot(page, "02-queue")
    page.reload()  # the key survives a reload of the tab
    page.wait_for_selector("#queue-body tr")
    page.click("#signout")
    assert page.is_visible("#view-signin")
    assert page.evaluate("sessionStorage.getItem('zhongshu.console.key')") is None


def test_queue_filters_by_rule_status_region_agency_and_grade(demo, page):
    hub, key, admin, _ = demo
    sign_in(page, hub, key)
    page.select_option("#f-rule", "INSP_NO_CODE")
    page.wait_for_function("location.hash.includes('rule_code=INSP_NO_CODE')")
    settle(page)
    by_rule = rows(page)
    assert len(by_rule) >= 3
    api = admin.get("/api/v1/leads", params={"rule_code": "INSP_NO_CODE", "page_size": 500}).json()["items"]
    assert {r["id"] for r in by_rule} == {l["lead_id"] for l in api}
    shot(page, "03-queue-filtered-rule")

    page.click("#f-reset")
    page.wait_for_function("location.hash === '#/queue' && document.getElementById('f-rule').value === ''")
    region = admin.get("/api/v1/leads", params={"page_size": 1}).json()["items"][0]["region_code"]
    page.select_option("#f-region", region)
    page.wait_for_function(f"location.hash.includes('region_code={region}')")
    settle(page)
    shown = rows(page)
    api = admin.get("/api/v1/leads", params={"region_code": region, "page_size": 50}).json()["items"]
    assert [r["id"] for r in shown] == [l["lead_id"] for l in api]

    page.click("#f-reset")
    page.wait_for_function("location.hash === '#/queue' && document.getElementById('f-region').value === ''")
    lead = admin.get("/api/v1/leads", params={"rule_code": "INSP_UNCERTIFIED", "page_size": 1}).json()["items"][0]
    page.select_option("#f-agency", lead["agency_code"])
    page.select_option("#f-status", "待认领")
    page.wait_for_function("location.hash.includes('status=')")
    settle(page)
    shown = rows(page)
    assert lead["lead_id"] in {r["id"] for r in shown}
    assert all(r["cells"][6] == "待认领" for r in shown)

    page.click("#f-reset")
    page.wait_for_function("location.hash === '#/queue' && document.getElementById('f-agency').value === ''")
    page.select_option("#f-grade", "A")
    page.wait_for_function("location.hash.includes('grade=A')")
    settle(page)
    graded = rows(page)
    assert graded and all("HOT_ENFORCEMENT_COMPLAINT" in r["cells"][1] and "A\n" in r["cells"][1] for r in graded)
    assert_fits_width(page)


def test_a_lead_opens_with_the_keyboard_and_is_claimed_and_resolved(demo, page):
    hub, key, admin, _ = demo
    sign_in(page, hub, key)
    page.select_option("#f-rule", "INSP_DUPLICATE")
    page.wait_for_function("location.hash.includes('rule_code=INSP_DUPLICATE')")
    settle(page)
    first = rows(page)[0]["id"]
    # keyboard only: Tab from the last filter control reaches the first row; Enter opens it
    page.focus("#f-reset")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.lead") == first
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", "the focused row has no visible focus"
    page.keyboard.press("Enter")
    page.wait_for_selector("#lead-evidence li")
    assert page.evaluate("location.hash") == f"#/lead/{first}"
    assert "重复检查" in page.inner_text("#lead-title")
    assert "国办发〔2024〕54号" in page.inner_text("#lead-explanation")
    evidence = page.inner_text("#lead-evidence")
    assert evidence.count("行政行为码") >= 2 and "enforcement.inspections" in evidence
    page.wait_for_function("/\\d{2}:\\d{2}/.test(document.querySelector('#lead-evidence .when').textContent)")
    assert page.is_enabled("[data-act=claim]") and not page.is_enabled("[data-act=resolve]")
    shot(page, "04-lead-detail")

    page.click("[data-act=claim]")
    page.wait_for_function("document.getElementById('lead-state').textContent.includes('处理中')")
    page.wait_for_selector("[data-act=resolve]:enabled")
    page.click("[data-act=resolve]")  # no outcome yet: refused in the page, nothing sent
    assert "必须" in page.inner_text("#action-msg") or "须" in page.inner_text("#action-msg")
    page.select_option("#a-outcome-preset", "已督促执法机关整改")
    page.fill("#a-note", "已电话核实，两次检查确属同一事项，已要求合并检查。")
    page.click("[data-act=resolve]")
    page.wait_for_function("document.getElementById('lead-state').textContent.includes('已办结')")
    history = page.inner_text("#lead-history")
    assert "认领" in history and "办结" in history and "已督促执法机关整改" in history
    shot(page, "05-lead-resolved")
    lead = admin.get(f"/api/v1/leads/{first}").json()
    assert lead["status"] == "已办结" and lead["outcome"] == "已督促执法机关整改" and lead["version"] == 3


def test_a_lead_claimed_elsewhere_updates_in_place_and_is_dismissed_with_a_reason(demo, page):
    hub, key, admin, _ = demo
    lead = admin.get("/api/v1/leads", params={"rule_code": "INSP_NO_PLAN", "status": "待认领"}).json()["items"][0]
    sign_in(page, hub, key)
    page.goto(f"{hub.url}/console/#/lead/{lead['lead_id']}")
    page.wait_for_selector("#lead-evidence li")
    # someone else claims it meanwhile: the page learns it through the stream or on its next action
    r = admin.post(f"/api/v1/leads/{lead['lead_id']}/claim", json={"version": lead["version"], "note": "并发认领"})
    assert r.status_code == 202
    page.wait_for_function("document.getElementById('lead-state').textContent.includes('处理中')")
    page.fill("#a-note", "经核查，该检查属专项检查，计划编号录入错误，不属无计划检查。")
    page.click("[data-act=dismiss]")
    page.wait_for_function("document.getElementById('lead-state').textContent.includes('已驳回')")
    assert admin.get(f"/api/v1/leads/{lead['lead_id']}").json()["status"] == "已驳回"


def test_the_queue_updates_live_from_the_stream(demo, page):
    hub, key, admin, _ = demo
    sign_in(page, hub, key)
    page.wait_for_function("document.getElementById('live').textContent.includes('已连接')")
    target = next(r for r in rows(page) if r["cells"][6] == "待认领")
    version = admin.get(f"/api/v1/leads/{target['id']}").json()["version"]
    assert admin.post(f"/api/v1/leads/{target['id']}/claim", json={"version": version}).status_code == 202
    page.wait_for_function(f"document.querySelector('[data-lead=\"{target['id']}\"]').innerText.includes('处理中')",
                           timeout=30_000)
    shot(page, "06-queue-live-update")


def test_the_enterprise_file_shows_its_timeline(demo, page):
    hub, key, admin, _ = demo
    lead = admin.get("/api/v1/leads", params={"rule_code": "INSP_MULTI_AGENCY"}).json()["items"][0]
    sign_in(page, hub, key)
    page.goto(f"{hub.url}/console/#/lead/{lead['lead_id']}")
    page.wait_for_selector("#lead-facts a[href^='#/enterprise/']")
    page.click("#lead-facts a[href^='#/enterprise/']")
    page.wait_for_selector("#ent-timeline li")
    assert page.inner_text("#ent-name") == lead["subject"]["name"]
    timeline = page.inner_text("#ent-timeline")
    assert timeline.count("行政检查") >= 3 and "行政行为码" in timeline and "监督线索" in timeline
    assert "3 次" in page.inner_text("#ent-facts") or "4 次" in page.inner_text("#ent-facts")
    assert_fits_width(page)
    shot(page, "07-enterprise-timeline")
    page.fill("#ent-uscc", "91330200MA2XXXXX00")
    page.press("#ent-uscc", "Enter")
    page.wait_for_function("document.getElementById('ent-error').textContent.length > 0")


def test_the_dashboard_renders_indicators_and_charts_with_data(demo, page):
    hub, key, _, _ = demo
    sign_in(page, hub, key)
    page.click("#nav a[data-view=dashboard]")
    page.wait_for_selector("#chart-trend svg rect")
    cards = page.eval_on_selector_all(".kpi", "ks => Object.fromEntries(ks.map(k => [k.dataset.code, k.innerText]))")
    assert set(cards) >= {"inspections", "random_share", "action_code_share", "publication_timeliness", "leads_by_rule"}
    inspections = int(re.search(r"\n(\d+)\n", cards["inspections"]).group(1))
    assert inspections > 30
    share = float(re.search(r"([\d.]+)%", cards["random_share"]).group(1))
    assert 50 <= share <= 90  # 双随机 ≈ 70 % in the synthetic data
    assert "分子" in cards["random_share"] and "分母" in cards["random_share"]
    for chart in ("chart-insp", "chart-pub", "chart-rules", "chart-trend"):
        svg = page.locator(f"#{chart} svg")
        assert svg.get_attribute("role") == "img" and svg.get_attribute("aria-label")
        assert page.locator(f"#{chart} svg rect, #{chart} svg circle").count() > 0, chart
    bars = page.locator("#chart-rules svg rect").count()
    assert bars >= 20  # leads of (nearly) every rule code
    assert_fits_width(page)
    shot(page, "08-dashboard")
    page.screenshot(path=str(ARTIFACTS / "08b-dashboard-full.png"), full_page=True)


def test_every_form_control_has_a_label_and_the_pages_are_keyboard_reachable(demo, page):
    hub, key, _, _ = demo
    sign_in(page, hub, key)
    for view in ("#/queue", "#/dashboard", "#/enterprise"):
        page.goto(f"{hub.url}/console/{view}")
        page.wait_for_timeout(500)
        unlabeled = page.evaluate("""() => [...document.querySelectorAll('input, select, textarea')]
            .filter(el => el.offsetParent !== null)
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
            .map(el => el.id || el.name)""")
        assert unlabeled == [], f"{view}: controls without a label: {unlabeled}"
    # the skip link is the first stop of the Tab order and moves focus to the main content
    page.goto(f"{hub.url}/console/#/queue")
    page.reload()  # a fresh document: focus starts at the top
    page.wait_for_selector("#queue-body tr")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
