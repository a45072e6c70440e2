"""Print the figures the fault and security tests wrote (tests/faults/results/*.json) as the
Markdown tables of docs/RELIABILITY.md:

    python3 -m pytest -q tests/faults tests/security && python3 tests/faults/report.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> int:
    r = load()
    if not r:
        print(f"no figures in {RESULTS}; run the tests first", file=sys.stderr)
        return 1
    print("### Load held and faults survived\n")
    print(row("test", "fault", "records", "intake rate (rec/s)", "lost", "doubled on topic", "leads expected",
              "leads projected", "doubled in projection", "lead records repeated on topic", "rebuild equal"))
    print(row(*["---"] * 11))
    for name in ("crash_worker", "crash_projector", "crash_api", "outage_kafka", "outage_postgresql", "two_workers"):
        f = r.get(name)
        if not f:
            continue
        fault = (f"kill -9 {f['stage_killed']} ×{f['kills']}" if "stage_killed" in f else
                 f"{f['outage']} down {f['outage_seconds']} s" if "outage" in f else "2nd worker joins, then leaves")
        rebuild = f"yes ({f['rebuild_rows_compared']} rows)" if "rebuild_differences" in f else "—"
        print(row(name, fault, f["records_posted"], f["records_per_second"], f["records_lost"],
                  f["records_doubled_on_topic"], f["leads_expected"], f["leads_projected"],
                  f["leads_doubled_in_projection"], f["lead_records_repeated_on_topic"], rebuild))
    print("\n### Bad inputs tried\n")
    print(row("test", "what", "count", "server errors / escaped"))
    print(row(*["---"] * 4))
    if "hostile_http_fuzz" in r:
        f = r["hostile_http_fuzz"]
        ex = f["examples_per_operation"]
        print(row("schemathesis", f"{f['operations']} operations × ≤{ex['positive']} valid + ≤{ex['negative']} invalid",
                  f["requests"], f"{f['server_errors']} (+ {f['known_server_errors']['count']} in reported routes)"))
    if "hostile_http_bodies" in r:
        print(row("hand-made bodies", "malformed JSON, wrong types, missing fields, …",
                  r["hostile_http_bodies"]["bodies_tried"], r["hostile_http_bodies"]["server_errors"]))
    if "hostile_http_json" in r:
        f = r["hostile_http_json"]
        print(row("what JSON cannot carry", f"NaN, Infinity, half surrogate pairs, 100k nesting on {f['routes']} routes",
                  f["bodies_tried"], f["server_errors"]))
    if "hostile_http_duplicates" in r:
        f = r["hostile_http_duplicates"]
        print(row("duplicates", f"one id ×3 in a list; ×{f['concurrent_posts']} concurrent", f["concurrent_posts"] + 3,
                  f"answers {f['answers']}, {f['records_on_topic']} record on the topic"))
    if "poison_records" in r:
        f = r["poison_records"]
        print(row("poison on ingress topics", ", ".join(f["kinds"]), f["records"],
                  f"{f['records'] - f['dead_lettered']} not dead-lettered, worker restarts {f['worker_restarts']}"))
    for name, f in r.items():
        print(f"\n<details><summary>{name}</summary>\n\n```json\n{json.dumps(f, ensure_ascii=False, indent=1)}\n```\n</details>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
