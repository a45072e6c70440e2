"""Top costs of a py-spy profile (collapsed stacks, `py-spy record -f raw`).

    python3 -m bench.profile_top PROFILE.txt [--top 25] [--match streams/]

Prints, per function, the share of samples it was on the stack (inclusive) and at the top of
the stack (self), so "where does the time go" has an answer with numbers.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def _name(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    path = m.group("file")
    for marker in ("site-packages/", "/work/main/", "python3.11/", "/tmp/bench-wt/"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{m.group('fn')} ({path})"


def load(path: str):
    stacks = []
    with open(path, errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line:
                continue
            stack, _, count = line.rpartition(" ")
            try:
                n = int(count)
            except ValueError:
                continue
            frames = [f for f in stack.split(";") if f]
            if frames and frames[0].startswith("process ") or frames and frames[0].startswith("thread "):
                frames = [f for f in frames if not (f.startswith("process ") or f.startswith("thread "))]
            stacks.append(([_name(f) for f in frames], n))
    return stacks


def top(path: str, n: int = 25, match: str | None = None) -> str:
    stacks = load(path)
    total = sum(c for _, c in stacks) or 1
    incl, self_ = Counter(), Counter()
    for frames, c in stacks:
        for f in set(frames):
            incl[f] += c
        if frames:
            self_[frames[-1]] += c
    lines = [f"{total} samples in {path}", "", "inclusive (on the stack):"]
    shown = 0
    for f, c in incl.most_common():
        if match and match not in f:
            continue
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
        shown += 1
        if shown >= n:
            break
    lines += ["", "self (top of the stack):"]
    for f, c in self_.most_common(n):
        lines.append(f"  {100 * c / total:5.1f}%  {f}")
    return "\n".join(lines)


def children(path: str, parent: str, n: int = 25) -> str:
    """Where the time under `parent` (a substring of a function name) goes, by direct callee."""
    stacks = load(path)
    total = sum(c for _, c in stacks) or 1
    under, callee = 0, Counter()
    for frames, c in stacks:
        idx = next((i for i, f in enumerate(frames) if parent in f), None)
        if idx is None:
            continue
        under += c
        callee[frames[idx + 1] if idx + 1 < len(frames) else "(self)"] += c
    lines = [f"{parent}: {100 * under / total:.1f}% of all samples; by direct callee:"]
    for f, c in callee.most_common(n):
        lines.append(f"  {100 * c / total:5.1f}%  ({100 * c / max(1, under):4.1f}% of it)  {f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("profile")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--match", help="inclusive list: only functions whose name/path contains this")
    p.add_argument("--under", action="append", help="break the time under this function down by callee")
    a = p.parse_args(argv)
    if a.under:
        print("\n\n".join(children(a.profile, u, a.top) for u in a.under))
    else:
        print(top(a.profile, a.top, a.match))
    return 0


if __name__ == "__main__":
    sys.exit(main())
