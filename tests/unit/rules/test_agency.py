"""机关指标规则: AGY_FINE_SURGE (罚没异常增长)."""
import random
from dataclasses import replace
from datetime import timedelta

from streams.keyspaces import AGENCY, dispatch, earliest_due
from streams.rules import agency as rule
from streams.rules.base import Tick, parse_time

from .conftest import AGENCIES, AGY_SCJ, AGY_ZHZF, REGION, codes, config, decided, filed, run, tick

EOD = "T23:59:59.999999+08:00"
FILING = filed("AJ-2025-000", "2025-08-01")


def cfg(thresholds=None, **ref):
    return config(thresholds, agencies=AGENCIES, **ref)


def fine(case_no: int, day: str, amount: str, *, confiscated="0", agency=AGY_SCJ):
    filing = {**FILING.value, "agency_code": agency}
    return decided(f"AJ-{day[:4]}-{case_no:03d}", day, filing=filing, fine_amount=amount,
                   confiscated_amount=confiscated)


def baseline(amount="50000", months=("2025-09", "2025-10", "2025-11", "2025-12", "2026-01", "2026-02")):
    return [fine(i, f"{m}-15", amount) for i, m in enumerate(months, start=1)]


def surge(out):
    return codes(out, "AGY_FINE_SURGE")


def test_key_is_the_deciding_agency_from_the_attached_filing():
    assert rule.key(fine(1, "2026-03-02", "100")) == AGY_SCJ
    assert rule.key(FILING) is None


def test_month_at_twice_the_mean_and_the_floor_fires_when_complete():
    facts = baseline() + [fine(20, "2026-03-10", "60000"), fine(21, "2026-03-31", "40000")]
    state, out = run(rule, facts + [tick("2026-03-31" + EOD)], cfg())
    assert surge(out) == [] and state["_due"] == "2026-03-31" + EOD
    state, out = run(rule, [tick("2026-04-01T00:00:00+08:00")], cfg(), state)
    [lead] = surge(out)
    assert lead["rule_name"] == "罚没异常增长"
    assert lead["subject"] == {"type": "agency", "id": AGY_SCJ, "name": "海曙区市场监督管理局"}
    assert lead["agency_code"] == AGY_SCJ and lead["region_code"] == REGION
    assert lead["detected_at"] == "2026-03-31" + EOD and len(lead["evidence"]) == 2
    assert "2026-03 作出处罚决定 2 件，罚没金额 100,000.00 元" in lead["explanation"]
    assert "前 6 个月（2025-09 至 2026-02）" in lead["explanation"] and "月均 50,000.00 元" in lead["explanation"]
    assert "_due" not in state


def test_just_below_twice_the_mean_does_not_fire():
    facts = baseline() + [fine(20, "2026-03-10", "99999.99"), tick("2026-04-01T00:00:00+08:00")]
    assert surge(run(rule, facts, cfg())[1]) == []


def test_months_without_decisions_count_zero_but_the_floor_applies():
    facts = baseline(amount="10000", months=("2025-09",))
    facts_hi = facts + [fine(20, "2026-03-10", "100000"), tick("2026-04-01T00:00:00+08:00")]
    [lead] = surge(run(rule, facts_hi, cfg())[1])
    assert "10,000.00、0.00、0.00、0.00、0.00、0.00 元" in lead["explanation"]
    assert "月均 1,666.67 元" in lead["explanation"]
    facts_lo = facts + [fine(20, "2026-03-10", "99999"), tick("2026-04-01T00:00:00+08:00")]
    assert surge(run(rule, facts_lo, cfg())[1]) == []


def test_a_decision_in_the_next_month_does_not_complete_the_month_the_next_tick_does():
    facts = baseline() + [fine(20, "2026-03-10", "300000"), fine(21, "2026-04-01", "100", )]
    state, out = run(rule, facts, cfg())
    assert surge(out) == [] and "months" not in state and len(state["held"]) == 8
    state, out = run(rule, [tick("2026-03-31" + EOD)], cfg(), state)  # the month's last instant
    assert surge(out) == [] and "held" not in state and state["_due"] == "2026-03-31" + EOD
    [lead] = surge(run(rule, [tick("2026-04-01T00:00:00+08:00")], cfg(), state)[1])
    assert lead["detected_at"] == "2026-03-31" + EOD and len(lead["evidence"]) == 1


def test_month_with_less_than_six_months_of_history_is_not_judged():
    short = baseline(months=("2025-10", "2025-11", "2025-12", "2026-01", "2026-02"))
    assert surge(run(rule, short + [fine(20, "2026-03-10", "900000"),
                                    tick("2026-04-01T00:00:00+08:00")], cfg())[1]) == []
    assert len(surge(run(rule, short + [fine(20, "2026-04-10", "900000"),
                                        tick("2026-05-01T00:00:00+08:00")], cfg())[1])) == 1
    relaxed = cfg({"AGY_FINE_SURGE": {"min_history_months": 0}})
    assert len(surge(run(rule, [fine(20, "2026-03-10", "900000"), tick("2026-04-01T00:00:00+08:00")],
                         relaxed)[1])) == 1


def test_confiscation_counts_unless_configured_off():
    facts = baseline() + [fine(20, "2026-03-10", "50000", confiscated="50000"),
                          tick("2026-04-01T00:00:00+08:00")]
    assert len(surge(run(rule, facts, cfg())[1])) == 1
    assert surge(run(rule, facts, cfg({"AGY_FINE_SURGE": {"include_confiscated": False}}))[1]) == []


def test_late_decision_for_a_judged_month_updates_the_lead_on_the_next_tick():
    facts = baseline() + [fine(20, "2026-03-10", "150000"), tick("2026-04-02T00:00:00+08:00"),
                          fine(21, "2026-03-30", "20000")]
    state, out = run(rule, facts, cfg())
    [first] = surge(out)
    assert "150,000.00 元" in first["explanation"] and len(first["evidence"]) == 1
    [second] = surge(run(rule, [tick("2026-04-02T00:01:00+08:00")], cfg(), state)[1])
    assert second["lead_id"] == first["lead_id"]
    assert "170,000.00 元" in second["explanation"] and len(second["evidence"]) == 2


def test_late_decision_completing_a_surge_after_the_month_ended():
    facts = baseline() + [fine(20, "2026-03-10", "90000"), tick("2026-04-02T00:00:00+08:00")]
    state, out = run(rule, facts, cfg())
    assert surge(out) == []
    state, out = run(rule, [fine(21, "2026-03-30", "20000")], cfg(), state)
    assert surge(out) == []  # held until a tick
    _, out = run(rule, [tick("2026-04-02T00:01:00+08:00")], cfg(), state)
    [lead] = surge(out)
    assert lead["detected_at"] == "2026-03-31" + EOD


def test_each_agency_is_its_own_state():
    other = [fine(i, f"{m}-15", "1000", agency=AGY_ZHZF)
             for i, m in enumerate(("2025-09", "2025-10", "2026-03"))]
    assert rule.key(other[0]) == AGY_ZHZF


def test_duplicate_delivery_changes_nothing():
    facts = baseline() + [fine(20, "2026-03-10", "150000"), tick("2026-04-02T00:00:00+08:00")]
    state, _ = run(rule, facts, cfg())
    again, out = rule.evaluate(state, facts[-2], cfg())
    assert again == state and out == []


def test_replay_is_deterministic_and_independent_of_tick_spacing():
    facts = baseline() + [fine(20, "2026-03-10", "150000")]
    daily = [tick(f"2026-04-{d:02d}T06:00:00+08:00") for d in range(1, 10)]
    a = run(rule, facts + daily, cfg())
    assert a == run(rule, facts + daily, cfg())
    b = run(rule, facts + [tick("2026-04-20T00:00:00+08:00")], cfg())
    assert surge(a[1]) == surge(b[1])


def test_state_and_evidence_stay_bounded():
    facts = [fine(i, f"2026-03-{1 + i % 28:02d}", str(1000 + i)) for i in range(80)]
    state, _ = run(rule, facts + [tick("2026-03-31T12:00:00+08:00")],
                   cfg({"AGY_FINE_SURGE": {"evidence_limit": 10}}))
    assert len(state["months"]["2026-03"]["top"]) == 10 and state["months"]["2026-03"]["n"] == 80
    assert "held" not in state  # held decisions live only until the next tick
    state, _ = run(rule, [tick("2027-06-01T00:00:00+08:00")], cfg(), state)
    assert state["months"] == {} and state["_seen"] == {} and "held" not in state and "_due" not in state


# ---- replay determinism: decisions forwarded from several case partitions ----------------------

def at_ts(f, ts):
    """The fact as forwarded: `ts` is its case record's append time (header zs_origin_ts)."""
    return replace(f, ts=ts)


def clock(at, ts):
    return Tick(at=parse_time(at), ts=ts)


def test_a_held_decision_is_judged_only_on_a_tick_recorded_after_it():
    base, _ = run(rule, baseline() + [tick("2026-03-01T00:00:00+08:00")], cfg())  # ts unknown: absorbs all
    assert "held" not in base and "_due" not in base
    state, out = run(rule, [at_ts(fine(20, "2026-03-10", "300000"), 1000.0)], cfg(), base)
    assert out == [] and state["months"] == base["months"] and state["_clock"] == base["_clock"]
    assert [h["ts"] for h in state["held"]] == [1000.0]
    assert earliest_due({"agency": state}) <= parse_time("2026-03-01T00:00:00+08:00")  # the next tick visits
    # ticks after the month's end, but recorded before the decision (or in its millisecond): still held
    state, out = run(rule, [clock("2026-04-01T00:00:00+08:00", 999.0)], cfg(), state)
    assert out == [] and "2026-03" not in state["months"] and len(state["held"]) == 1
    assert state["_clock"] == "2026-04-01T00:00:00+08:00" and state["_due"] == rule._HELD_DUE
    # the next releases nothing and passes no month end: the state stays as it was, clock included
    again, out = rule.evaluate(state, clock("2026-04-01T00:01:00+08:00", 1000.0), cfg())
    assert out == [] and again is state
    state, out = run(rule, [clock("2026-04-01T00:02:00+08:00", 1000.001)], cfg(), state)
    [lead] = surge(out)
    assert lead["detected_at"] == "2026-03-31" + EOD and "300,000.00 元" in lead["explanation"]
    assert "held" not in state and "_due" not in state
    # a tick whose own time is unknown absorbs whatever is held
    state, _ = run(rule, [at_ts(fine(21, "2026-04-02", "100"), 5000.0)], cfg(), state)
    state, _ = run(rule, [tick("2026-04-02T00:00:00+08:00")], cfg(), state)
    assert "held" not in state and state["months"]["2026-04"]["n"] == 1


# Two case partitions forward decisions of one agency; the ticks' `ts` are their hub.clock append
# times. P0: the March surge, then a decision of April 1 (which completed March on arrival under
# the old rule); P1: a late decision for March, then an April one.
_BASE = [at_ts(f, float(i)) for i, f in enumerate(baseline(), start=1)]
_P0 = [at_ts(fine(20, "2026-03-10", "150000"), 20.0), at_ts(fine(22, "2026-04-01", "100"), 35.0)]
_P1 = [at_ts(fine(21, "2026-03-30", "20000"), 32.0), at_ts(fine(23, "2026-04-05", "90000"), 45.0)]
_TICKS = [clock("2026-03-01T00:00:00+08:00", 10.0), clock("2026-04-01T00:00:00+08:00", 30.0),
          clock("2026-04-01T00:01:00+08:00", 40.0), clock("2026-05-01T00:00:00+08:00", 50.0)]
T0, T1, T2, T3 = _TICKS
F20, F22 = _P0
F21, F23 = _P1
# Both consistent with the marker protocol (a fact recorded before a tick precedes it), each
# partition in its own order; only facts recorded after a tick move across it.
EARLY = [*_BASE, T0, F20, F21, F22, F23, T1, T2, T3]
LATE = [*_BASE, T0, F20, T1, F21, F22, T2, F23, T3]


def valid_orders(n: int, seed: int = 7):
    """Random interleavings of the partitions and the ticks that the marker protocol allows."""
    rnd = random.Random(seed)
    for _ in range(n):
        queues, ticks, order = [list(_BASE + _P0), list(_P1)], list(_TICKS), []
        while any(queues) or ticks:
            heads = [q for q in queues if q]
            tick_ok = ticks and all(q[0].ts >= ticks[0].ts for q in heads)
            take = ticks if tick_ok and (not heads or rnd.random() < 0.5) else rnd.choice(heads)
            order.append(take.pop(0))
        yield order


def through_dispatch(items):
    """As the worker runs it: a tick reaches the rule only when the state is due (keyspaces)."""
    space, state, leads = AGENCY.load(), {}, []
    for item in items:
        state, out = dispatch(space, state, item, AGY_SCJ, cfg())
        leads += out.leads
    return state.get("agency"), leads


def test_replays_that_interleave_case_partitions_differently_emit_the_same_leads():
    early, late = run(rule, EARLY, cfg()), run(rule, LATE, cfg())
    assert early[1] == late[1] and early[0] == late[0]
    [first, second] = surge(early[1])  # the surge on T1 (tick-recorded decisions only), the late one on T2
    assert first["lead_id"] == second["lead_id"] and first["detected_at"] == "2026-03-31" + EOD
    assert "150,000.00 元" in first["explanation"] and len(first["evidence"]) == 1
    assert "170,000.00 元" in second["explanation"] and len(second["evidence"]) == 2
    assert "held" not in early[0] and early[0]["months"]["2026-04"]["total"] == "90100"
    assert through_dispatch(EARLY) == through_dispatch(LATE) == early
    for order in valid_orders(40):
        assert run(rule, order, cfg()) == early
        assert through_dispatch(order) == early


def test_ticks_that_change_nothing_leave_the_state_as_it_was_and_the_leads_are_those_of_the_full_path(monkeypatch):
    """The short cut (`_tick_changes_nothing`) against every tick taking the full path, on
    random orders the marker protocol allows, with ticks every few days so that most visits
    while decisions are held release nothing: the same leads, and the same states but for the
    clock of ticks that changed nothing."""
    rnd = random.Random(11)
    days = sorted((rnd.randint(1, 9), rnd.randint(1, 28)) for _ in range(60))
    facts = [at_ts(fine(i, f"2026-{m:02d}-{d:02d}", str(20000 if m <= 6 else rnd.choice([20000, 400000]))), float(10 * i))
             for i, (m, d) in enumerate(days, start=1)]
    start = parse_time("2026-01-01T00:00:00+08:00")
    ticks = [Tick(at=start + timedelta(days=2 * k), ts=1.0 + 4.4 * k) for k in range(140)]  # ~2 ticks a decision

    def orders(n):
        for _ in range(n):
            queue, ts, order = list(facts), list(ticks), []
            while queue or ts:
                ok = ts and (not queue or queue[0].ts >= ts[0].ts)
                order.append(ts.pop(0) if ok and (not queue or rnd.random() < 0.5) else queue.pop(0))
            yield order

    def strip(state):
        return {k: v for k, v in state.items() if k != "_clock"}

    for order in orders(10):
        fast_state, fast_out, shortcuts = {}, [], 0
        slow_state, slow_out = {}, []
        for item in order:
            before = fast_state
            fast_state, out = rule.evaluate(fast_state, item, cfg())
            fast_out += out
            shortcuts += fast_state is before
            with monkeypatch.context() as m:
                m.setattr(rule, "_tick_changes_nothing", lambda *a: False)
                slow_state, out = rule.evaluate(slow_state, item, cfg())
            slow_out += out
            assert strip(fast_state) == strip(slow_state)
        assert fast_out == slow_out and surge(fast_out)
        final = clock("2026-12-01T00:00:00+08:00", None)
        assert rule.evaluate(fast_state, final, cfg()) == rule.evaluate(slow_state, final, cfg())
        assert shortcuts > 0
