#!/usr/bin/env python3
"""Writes the reliability table from the JSON-lines logs the test runs leave behind.

Rows come from the fault, hostile-input and tampering tests (tests/support/include/surge/
testing/reliability.h), from each fuzz target's run and from each sanitizer run (./surge).
Rows with the same area and description are summed over tests and builds; a row is "pass" only
if every test behind it passed.

Usage:
  reliability_report.py OUT.md LOG.jsonl [LOG.jsonl ...]      write the table (./surge writes
                                                              build/RELIABILITY.md; ./surge report
                                                              tests/RELIABILITY.md)
  reliability_report.py run-row KIND CTEST.log [REPORTS_DIR]   JSON lines for one ctest run
  reliability_report.py fuzz-rows CTEST_VERBOSE.log            JSON lines for the fuzz targets
"""
import json
import os
import re
import subprocess
import sys
import time

AREAS = [
    ("fault", "Faults (real processes killed, stopped, slowed, restarted)"),
    ("soak", "Soak (`./surge soak`: the fault loops at length, plain build)"),
    ("hostile-http", "Hostile HTTP (raw sockets against a real surge-edge)"),
    ("tampering", "Tampering (snapshots, tickets, admin requests)"),
    ("fuzz", "Fuzzing (libFuzzer, ASan+UBSan, bounded time per target)"),
    ("sanitizer", "Sanitizers (the test suite under instrumentation)"),
    ("cdn", "CDN in front of the edges (Debian's Varnish with xkey, purged by origin)"),
    ("cluster", "Cluster faults (`./surge test-cluster`: 3 edges, 2 origins on PostgreSQL, "
                "3 memcached, HAProxy, each in its own network namespace)"),
]
BUILDS = {"plain": "plain", "asan": "ASan+UBSan", "tsan": "TSan", "fuzz": "libFuzzer",
          "soak": "soak (plain, ./surge soak)", "cluster": "cluster (plain)"}
SOURCE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Counts that say something went wrong: summed into the headline, must be 0.
BAD = ("lost", "overbooked slots", "failed reads", "answers cut mid-way", "crashes",
       "sanitizer reports", "outside the root served", "answers larger than the file",
       "later requests spoiled", "stale reads after a purge")


def load(paths):
    rows, runs = [], []
    for path in paths:
        if not os.path.exists(path):
            continue
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    sys.exit(f"{path}:{n}: {e}")
                (runs if "run" in row else rows).append(row)
    return rows, runs


def merge(rows):
    merged = {}
    for r in rows:
        # Soak runs are their own rows: their figures are the point, not a share of a sum.
        key = ("soak" if r.get("build") == "soak" else r["area"], r["what"])
        m = merged.setdefault(key, {"tries": 0, "counts": {}, "outcome": r.get("outcome", ""),
                                    "ok": True, "builds": set(), "tests": set()})
        m["tries"] += int(r.get("tries", 0))
        for name, value in r.get("counts", {}).items():
            if name.startswith("max"):
                m["counts"][name] = max(m["counts"].get(name, value), value)
            else:
                m["counts"][name] = m["counts"].get(name, 0) + value
        m["ok"] = m["ok"] and bool(r.get("ok"))
        m["builds"].add(BUILDS.get(r.get("build", "plain"), r.get("build", "")))
        if r.get("test"):
            m["tests"].add(r["test"])
        if r.get("outcome") and not m["outcome"]:
            m["outcome"] = r["outcome"]
    return merged


def cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def ctest_summary(log_path):
    """(tests run, failed) from a ctest log."""
    text = open(log_path, encoding="utf-8", errors="replace").read()
    m = re.search(r"(\d+)% tests passed, (\d+) tests? failed out of (\d+)", text)
    return (int(m.group(3)), int(m.group(2))) if m else (0, 1)


def run_row(kind, log_path, reports_dir=None):
    """One line for a whole ctest run: a "run" record, plus a sanitizer row when instrumented."""
    tests, failed = ctest_summary(log_path)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, check=False, cwd=SOURCE).stdout.strip()
    rows = [{"run": kind, "commit": commit, "tests": tests, "ok": failed == 0,
             "started": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}]
    if reports_dir is not None:
        reports = [f for f in os.listdir(reports_dir)] if os.path.isdir(reports_dir) else []
        what = {"asan": "ASan+UBSan: the whole suite (servers and tests instrumented)",
                "tsan": "TSan: the whole suite (servers and tests instrumented)"}[kind]
        rows.append({"area": "sanitizer", "what": what, "tries": tests, "build": kind,
                     "counts": {"tests failed": failed, "sanitizer reports": len(reports)},
                     "outcome": ("reports: " + ", ".join(sorted(reports)[:5])) if reports else
                                "no sanitizer report from any process (tests and the servers "
                                "they started)",
                     "ok": failed == 0 and not reports, "test": f"ctest in build-{kind}/"})
    return rows


def fuzz_rows(log_path):
    """One row per libFuzzer target from `ctest -V` output in build-fuzz/."""
    names, execs, passed = {}, {}, {}
    for line in open(log_path, encoding="utf-8", errors="replace"):
        m = re.match(r"^(\d+): Test command: \S*/(\w+_fuzz) ", line)
        if m:
            names[m.group(1)] = m.group(2)
        m = re.match(r"^(\d+): stat::number_of_executed_units: (\d+)", line)
        if m:
            execs[m.group(1)] = int(m.group(2))
        m = re.search(r"Test +#(\d+): fuzz\.\w+ \.+\s+(Passed|\*+Failed|Failed)", line)
        if m:
            passed[m.group(1)] = m.group(2) == "Passed"
    rows = []
    for num, name in sorted(names.items()):
        ok = passed.get(num, False)
        rows.append({"area": "fuzz", "what": name, "tries": execs.get(num, 0), "build": "fuzz",
                     "counts": {"crashes": 0 if ok else 1},
                     "outcome": "inputs run (seeds in tests/fuzz/corpus/ replayed first)",
                     "ok": ok, "test": f"fuzz.{name}"})
    return rows


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "fuzz-rows":
        for row in fuzz_rows(sys.argv[2]):
            print(json.dumps(row))
        return 0
    if len(sys.argv) >= 4 and sys.argv[1] == "run-row":
        reports = sys.argv[4] if len(sys.argv) > 4 else None
        for row in run_row(sys.argv[2], sys.argv[3], reports):
            print(json.dumps(row))
        return 0
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, logs = sys.argv[1], sys.argv[2:]
    rows, runs = load(logs)
    merged = merge(rows)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=False, cwd=SOURCE).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    failed = [k for k, m in merged.items() if not m["ok"]]
    bad_total = {name: 0 for name in BAD}
    for m in merged.values():
        for name, value in m["counts"].items():
            if name in bad_total:
                bad_total[name] += value
    lines = [
        "# Reliability",
        "",
        "Generated by the test commands (`./surge test`, `./surge test-sanitizers`, `./surge soak`, `./surge test-cluster`)"
        " into build/RELIABILITY.md, and copied here by `./surge report`; do not edit by hand.",
        f"Written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} at commit `{commit}` from "
        + ", ".join(f"`{os.path.relpath(p, SOURCE)}`" for p in logs if os.path.exists(p)) + ".",
        "",
    ]
    if runs:
        lines += ["| Run | Commit | Started (UTC) | Tests | Result |", "|---|---|---|---|---|"]
        for r in runs:
            lines.append(f"| {cell(BUILDS.get(r['run'], r['run']))} | `{cell(r.get('commit', ''))}` | "
                         f"{cell(r.get('started', ''))} | {r.get('tests', '')} | "
                         f"{'pass' if r.get('ok') else '**FAIL**'} |")
        lines.append("")
    verdict = "every row passed" if not failed else f"**{len(failed)} rows FAILED**"
    fuzz_inputs = sum(m["tries"] for k, m in merged.items() if k[0] == "fuzz")
    suite_tests = sum(m["tries"] for k, m in merged.items() if k[0] == "sanitizer")
    other = sum(m["tries"] for k, m in merged.items() if k[0] not in ("fuzz", "sanitizer"))
    lines += [
        f"**{len(merged)} classes: {other:,} faults and hostile or tampered inputs tried, "
        f"{fuzz_inputs:,} fuzz inputs, {suite_tests:,} tests under sanitizers; {verdict}.** "
        + ", ".join(f"{v} {k}" for k, v in bad_total.items()) + ".",
        "",
    ]
    for area, title in AREAS:
        keys = sorted(k for k in merged if k[0] == area)
        if not keys:
            continue
        lines += [f"## {title}", "", "| Class | Tried | Outcome | Counted | Builds | Result |",
                  "|---|---:|---|---|---|---|"]
        for key in keys:
            m = merged[key]
            counted = "; ".join(f"{name}: {value:,}" for name, value in m["counts"].items())
            lines.append(f"| {cell(key[1])} | {m['tries']:,} | {cell(m['outcome'])} | "
                         f"{cell(counted)} | {', '.join(sorted(m['builds']))} | "
                         f"{'pass' if m['ok'] else '**FAIL**'} |")
        lines.append("")
    lines += ["Tests behind each row: `grep -rn ReliabilityRow tests/`; fuzz targets: "
              "`tests/fuzz/`; the sanitizer runs: `./surge test-sanitizers`.", ""]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
