#!/usr/bin/env python3
"""Publish dates on the project's own date fixtures: autosync vs trafilatura.

The pages and their expected publish times are `tests/fixtures/dates/
expected.json` (the same table `tests/extract_dates.rs` asserts). Each page
is copied to WORK with its modification time set to the case's fetch time,
since `autosync extract FILE` takes a saved page's mtime as its fetch time;
autosync runs as `AUTOSYNC extract --url URL FILE`. trafilatura runs
`bare_extraction(raw_bytes, url=URL, with_metadata=True)` and its `date`.
A date counts when its calendar day as written equals the expected one
(the issue's "same day"); autosync's exact time is reported too.

Usage (from the project root):
    /tmp/trafvenv/bin/python bench/dates_fixtures.py --autosync target/release/autosync
"""
import argparse
import datetime
import json
import os
import shutil
import subprocess
import sys


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--autosync", default=os.path.join(root, "target", "release", "autosync"))
    ap.add_argument("--work", default="/tmp/dates_fixtures")
    ap.add_argument("--no-trafilatura", action="store_true")
    a = ap.parse_args()
    fixtures = os.path.join(root, "tests", "fixtures", "dates")
    with open(os.path.join(fixtures, "expected.json"), encoding="utf-8") as f:
        cases = json.load(f)
    os.makedirs(a.work, exist_ok=True)
    traf = None
    if not a.no_trafilatura:
        from trafilatura import bare_extraction
        traf = bare_extraction
    rows = []
    for c in cases:
        src = os.path.join(fixtures, c["file"])
        dst = os.path.join(a.work, c["file"])
        shutil.copyfile(src, dst)
        fetched = datetime.datetime.fromisoformat(c["fetched"]).timestamp()
        os.utime(dst, (fetched, fetched))
        res = subprocess.run([a.autosync, "extract", "--url", c["url"], dst],
                             capture_output=True, text=True)
        ours = None
        if res.returncode == 0 and res.stdout.strip():
            ours = json.loads(res.stdout.splitlines()[0]).get("published_at")
        theirs = None
        if traf is not None:
            with open(src, "rb") as f:
                doc = traf(f.read(), url=c["url"], with_metadata=True)
            theirs = getattr(doc, "date", None) if doc is not None else None
            if isinstance(doc, dict):
                theirs = doc.get("date")
        rows.append((c, ours, theirs))
    day = lambda v: str(v)[:10] if v else None
    n = len(rows)
    ours_ok = sum(1 for c, o, _ in rows if day(o) == c["want"][:10])
    ours_exact = sum(1 for c, o, _ in rows if o == c["want"])
    print(f"autosync: {ours_ok}/{n} same day ({ours_exact}/{n} exact time)")
    if traf is not None:
        theirs_ok = sum(1 for c, _, t in rows if day(t) == c["want"][:10])
        print(f"trafilatura: {theirs_ok}/{n} same day")
    print("| page | kind | expected | autosync | trafilatura |")
    print("|---|---|---|---|---|")
    for c, o, t in rows:
        mark = lambda v: ("✓ " if day(v) == c["want"][:10] else "✗ ") + str(day(v))
        print(f"| {c['file']} ({c['url'].split('/')[-1] or c['url'].split('/')[-2]}) | {c['kind']} "
              f"| {c['want'][:10]} | {mark(o)} | {mark(t) if traf else '-'} |")


if __name__ == "__main__":
    sys.exit(main())
