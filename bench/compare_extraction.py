#!/usr/bin/env python3
"""Side-by-side extraction benchmark: autosync vs trafilatura, same pages, same run.

Why this exists: speed and quality claims against trafilatura only mean
something when both tools run on the same machine, the same pages and the
same core, close together in time (the build machine is shared and noisy).
This script does that and prints the markdown table that BENCHMARKS.md quotes.

What it does, for each benchmark set (zyte: `words` tokens, zh-articles:
`cjk` tokens) and each of REPS repetitions, alternating which tool goes first:

* trafilatura: a child process of this script (`--worker`), run under
  `taskset -c CORE`, calls `trafilatura.extract(raw_bytes, url=<truth url>,
  include_comments=False)` (all other options at trafilatura's defaults:
  txt output, no favor_precision / favor_recall, no metadata) on every page.
  The timer covers only that call (after one untimed warm-up call on the
  first page). It is fed the gunzipped *bytes*, so its
  time includes its own charset detection and decoding, as autosync's does.
* autosync: `taskset -c CORE autosync bench DIR --out PRED.jsonl`; its
  timer covers charset decode + extraction (gunzip and file reading are
  outside, as for trafilatura). autosync gets no URL (the bench command
  passes none); the URL only matters for resolving links, not for text.

Both prediction files are scored with the reference scorer
(`shared/tools/score_extraction.py`). Extraction is deterministic, so the
scores are taken from the first repetition and every later repetition is
checked to score the same. Pages/s is the median over repetitions; the
speed ratio is the median of the per-repetition ratios (each measured side
by side).

Dates (zh-articles only): a page "shows a date" when its visible text (the
HTML with <script>, <style>, <noscript>, <template>, comments and tags
removed, entities unescaped) contains a full year-month-day date:
2023-11-20, 2023/11/20, 2023.11.20 or 2023年11月20日 (years 1990-2039).
Dates without a year ("11月30日") do not count. For autosync the date is
`published_at` from `autosync bench --out`; for trafilatura it is `date`
from one extra, untimed `bare_extraction(..., with_metadata=True)` pass.
A tool's date "is shown on the page" when its calendar day (as written, no
time zone conversion) is one of the dates shown on that page. Because list
pages and sidebars show many dates, a stricter check is also reported: the
date must equal the page's article date: the last shown date before the
article text starts (found by locating the first 12 non-space characters
of the ground-truth body in the visible text), i.e. the date line between
title and body; pages with no date before the body are left out of it. trafilatura gets the page URL, which its date
finder (htmldate) also reads; autosync's bench gets none.

Timers are wall-clock (perf_counter / Instant) for both tools, so load from
other processes on the pinned core inflates both; alternating the order and
taking side-by-side ratios is what keeps the comparison fair.

Usage (from the project root, after `cargo build --release`):
    python3 -m venv /tmp/trafvenv && /tmp/trafvenv/bin/pip install trafilatura lxml_html_clean
    /tmp/trafvenv/bin/python bench/compare_extraction.py --reps 3 --core 0
"""
import argparse
import gzip
import html as htmlmod
import json
import os
import re
import statistics
import subprocess
import sys
import time
from html.parser import HTMLParser

SETS = {"zyte": "words", "zh-articles": "cjk"}


def pages(dir_):
    """The pages autosync bench reads, in the same (sorted path) order."""
    html_dir = os.path.join(dir_, "html")
    names = sorted(n for n in os.listdir(html_dir)
                   if n.lower().endswith((".html", ".htm", ".html.gz", ".htm.gz")))
    return [os.path.join(html_dir, n) for n in names]


def read_page(path):
    with open(path, "rb") as f:
        raw = f.read()
    return gzip.decompress(raw) if path.endswith(".gz") else raw


def page_id(path):
    return os.path.basename(path).split(".")[0]


# ---------------------------------------------------------------- worker ---

def worker(a):
    """Run trafilatura over one set; print {"pages", "seconds", "version"}."""
    import trafilatura
    from trafilatura import bare_extraction, extract

    with open(a.truth, encoding="utf-8") as f:
        truth = json.load(f)
    files = pages(a.dir)
    # Read and gunzip everything before timing anything.
    docs = [(p, read_page(p), truth.get(page_id(p), {}).get("url")) for p in files]
    # One untimed call first: trafilatura's first call pays one-off set-up
    # (~0.1 s) that a long-running process would pay once; leaving it out
    # can only favour trafilatura.
    if docs:
        extract(docs[0][1], url=docs[0][2], include_comments=False)
    elapsed = 0.0
    with open(a.out, "w", encoding="utf-8") as out:
        for path, raw, url in docs:
            t0 = time.perf_counter()
            text = extract(raw, url=url, include_comments=False)
            elapsed += time.perf_counter() - t0
            out.write(json.dumps({"file": path, "text": text or ""}, ensure_ascii=False) + "\n")
    if a.dates:
        # Untimed: metadata extraction is not part of the published setup.
        with open(a.dates, "w", encoding="utf-8") as out:
            for path, raw, url in docs:
                doc = bare_extraction(raw, url=url, include_comments=False, with_metadata=True)
                date = getattr(doc, "date", None) if doc is not None else None
                if isinstance(doc, dict):
                    date = doc.get("date")
                out.write(json.dumps({"file": path, "date": date}) + "\n")
    print(json.dumps({"pages": len(docs), "seconds": elapsed, "version": trafilatura.__version__}))


# ------------------------------------------------------------------ runs ---

def run_trafilatura(a, dir_, truth, out, dates=None):
    cmd = ["taskset", "-c", str(a.core), a.python, os.path.abspath(__file__), "--worker",
           "--dir", dir_, "--truth", truth, "--out", out]
    if dates:
        cmd += ["--dates", dates]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    info = json.loads(res.stdout.strip().splitlines()[-1])
    return info


AUTOSYNC_LINE = re.compile(r"pages (\d+)\s+extracted (\d+)\s+failed (\d+)\s+([\d.]+)s")


def run_autosync(a, dir_, out):
    cmd = ["taskset", "-c", str(a.core), a.autosync, "bench", dir_, "--out", out]
    res = subprocess.run(cmd, check=True, capture_output=True, text=True)
    m = AUTOSYNC_LINE.search(res.stdout)
    if not m:
        sys.exit(f"cannot parse autosync bench output:\n{res.stdout}\n{res.stderr}")
    return {"pages": int(m[1]), "seconds": float(m[4]), "failed": int(m[3])}


def score(a, truth, pred, tokens):
    res = subprocess.run([sys.executable, a.scorer, truth, pred, "--tokens", tokens, "--json"],
                         check=True, capture_output=True, text=True)
    return json.loads(res.stdout)


# ----------------------------------------------------------------- dates ---

class Visible(HTMLParser):
    """Collects text a reader could see (no script/style/noscript/template)."""
    HIDDEN = {"script", "style", "noscript", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts = []

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag):
        if tag in self.HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*(?:[-/.]|年)\s*(\d{1,2})\s*(?:[-/.]|月)\s*(\d{1,2})(?!\d)")


def visible_text(raw):
    p = Visible()
    p.feed(raw.decode("utf-8", errors="replace"))
    p.close()
    return htmlmod.unescape(" ".join(p.parts))


def dates_in(text):
    """(position, YYYY-MM-DD) of every plausible full date in `text`."""
    out = []
    for m in DATE.finditer(text):
        y, mo, d = (int(g) for g in m.groups())
        if 1990 <= y <= 2039 and 1 <= mo <= 12 and 1 <= d <= 31:
            out.append((m.start(), f"{y:04d}-{mo:02d}-{d:02d}"))
    return out


def article_date(visible, body):
    """The last shown date before the article text starts: where a page's
    date line sits (under the title, above the body). Dates inside the body
    or in "related articles" lists further down are not it.

    The article start is found by searching the visible text for the first
    12 non-space characters of the ground-truth body, ignoring whitespace.
    None when it cannot be found or no date precedes it.
    """
    anchor = re.sub(r"\s+", "", body or "")[:12]
    if len(anchor) < 12:
        return None
    m = re.search(r"\s*".join(re.escape(ch) for ch in anchor), visible)
    if not m:
        return None
    before = [d for pos, d in dates_in(visible) if pos < m.start()]
    return before[-1] if before else None


def shown_dates(raw, body=None):
    """All dates shown on the page, and the article's own (see article_date)."""
    visible = visible_text(raw)
    return {d for _, d in dates_in(visible)}, article_date(visible, body)


def day_of(value):
    """YYYY-MM-DD of an RFC 3339 / ISO date string, as written (no TZ shift)."""
    if not value:
        return None
    m = re.match(r"(\d{4})-(\d{2})-(\d{2})", str(value))
    return m.group(0) if m else None


def date_report(dir_, truth, autosync_pred, traf_dates):
    with open(truth, encoding="utf-8") as f:
        bodies = {k: v.get("articleBody", "") for k, v in json.load(f).items()}
    files = pages(dir_)
    shown, article = {}, {}
    for p in files:
        shown[page_id(p)], article[page_id(p)] = shown_dates(read_page(p), bodies.get(page_id(p)))
    ours, theirs = {}, {}
    with open(autosync_pred, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            ours[page_id(r["file"])] = day_of(r.get("published_at"))
    with open(traf_dates, encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            theirs[page_id(r["file"])] = day_of(r.get("date"))
    showing = [i for i, s in shown.items() if s]
    anchored = [i for i in showing if article[i]]
    rep = {"pages": len(files), "showing": len(showing), "anchored": len(anchored), "tools": {}}
    for name, got in (("autosync", ours), ("trafilatura", theirs)):
        rep["tools"][name] = {
            "found": sum(1 for i in showing if got.get(i)),
            "matching": sum(1 for i in showing if got.get(i) in shown[i]),
            "article": sum(1 for i in anchored if got.get(i) == article[i]),
            "found_any_page": sum(1 for v in got.values() if v),
            "missed": sorted(i[:10] for i in showing if not got.get(i)),
            "wrong": sorted(f"{i[:10]}={got.get(i)}" for i in showing
                            if got.get(i) and got.get(i) not in shown[i]),
            "not_article": sorted(f"{i[:10]}={got.get(i)} (article date {article[i]})" for i in anchored
                                  if got.get(i) != article[i]),
        }
    return rep


# ------------------------------------------------------------------ main ---

def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shared", default=os.path.join(root, "..", "shared"),
                    help="the shared/ directory (default: ../shared from the project root)")
    ap.add_argument("--autosync", default=os.path.join(root, "target", "release", "autosync"))
    ap.add_argument("--python", default=sys.executable,
                    help="Python with trafilatura installed (default: this one)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--core", type=int, default=0, help="CPU both tools are pinned to (taskset -c)")
    ap.add_argument("--sets", default=",".join(SETS), help="comma-separated: zyte,zh-articles")
    ap.add_argument("--work", default="/tmp/compare_extraction",
                    help="where prediction files go (never inside the project)")
    ap.add_argument("--json", help="also write all figures here as JSON")
    # worker mode (internal)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    ap.add_argument("--truth", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    ap.add_argument("--dates", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a)

    a.scorer = os.path.join(a.shared, "tools", "score_extraction.py")
    os.makedirs(a.work, exist_ok=True)
    results = {}
    version = None
    for set_name in a.sets.split(","):
        tokens = SETS[set_name]
        dir_ = os.path.join(a.shared, "bench", set_name)
        truth = os.path.join(dir_, "ground-truth.json")
        runs = {"trafilatura": [], "autosync": []}
        scores = {}
        for rep in range(a.reps):
            order = ["trafilatura", "autosync"] if rep % 2 == 0 else ["autosync", "trafilatura"]
            for tool in order:
                pred = os.path.join(a.work, f"{set_name}.{tool}.{rep}.jsonl")
                if tool == "trafilatura":
                    info = run_trafilatura(a, dir_, truth, pred)
                    version = info["version"]
                else:
                    info = run_autosync(a, dir_, pred)
                s = score(a, truth, pred, tokens)
                if tool in scores and (s["f1"], s["empty"]) != (scores[tool]["f1"], scores[tool]["empty"]):
                    print(f"warning: {set_name} {tool} scored differently in repetition {rep}: {s}",
                          file=sys.stderr)
                scores.setdefault(tool, s)
                info["pps"] = info["pages"] / info["seconds"] if info["seconds"] else 0.0
                runs[tool].append(info)
                print(f"# {set_name} rep {rep} {tool}: {info['pages']} pages in {info['seconds']:.3f}s "
                      f"= {info['pps']:.1f} pages/s, F1 {s['f1']:.4f}", file=sys.stderr)
        ratios = [o["pps"] / t["pps"] for o, t in zip(runs["autosync"], runs["trafilatura"]) if t["pps"]]
        results[set_name] = {"tokens": tokens, "scores": scores, "runs": runs,
                             "pps": {k: statistics.median(r["pps"] for r in v) for k, v in runs.items()},
                             "ratios": ratios, "ratio": statistics.median(ratios)}
        if set_name == "zh-articles":
            tdates = os.path.join(a.work, f"{set_name}.trafilatura.dates.jsonl")
            run_trafilatura(a, dir_, truth, os.path.join(a.work, f"{set_name}.trafilatura.for-dates.jsonl"), tdates)
            results[set_name]["dates"] = date_report(
                dir_, truth, os.path.join(a.work, f"{set_name}.autosync.0.jsonl"), tdates)

    print(f"trafilatura {version}; {a.reps} repetitions, alternating order, both pinned to core {a.core} "
          f"(taskset); pages/s = median; ratio = median of per-repetition autosync/trafilatura ratios\n")
    print("| set | tokens | tool | F1 | precision | recall | empty pages | pages/s (median) | speed ratio |")
    print("|---|---|---|---|---|---|---|---|---|")
    for set_name, r in results.items():
        for tool in ("trafilatura", "autosync"):
            s = r["scores"][tool]
            ratio = f"{r['ratio']:.1f}× (reps: {', '.join(f'{x:.1f}' for x in r['ratios'])})" \
                if tool == "autosync" else "1×"
            print(f"| {set_name} ({s['pages']}) | {r['tokens']} | {tool} | {s['f1']:.3f} | {s['precision']:.3f} "
                  f"| {s['recall']:.3f} | {s['empty']} | {r['pps'][tool]:.1f} | {ratio} |")
    for set_name, r in results.items():
        d = r.get("dates")
        if not d:
            continue
        print(f"\nDates on {set_name}: {d['showing']} of {d['pages']} pages show a full Y-M-D date in their "
              f"visible text; on {d['anchored']} of them a date precedes the located article text (the article date).\n")
        print("| tool | date found (of pages that show one) | found date is shown on the page "
              "| found date = article date | date found on any page |")
        print("|---|---|---|---|---|")
        for tool, t in d["tools"].items():
            print(f"| {tool} | {t['found']}/{d['showing']} | {t['matching']}/{d['showing']} "
                  f"| {t['article']}/{d['anchored']} | {t['found_any_page']}/{d['pages']} |")
        for tool, t in d["tools"].items():
            for key, label in (("missed", "no date"), ("wrong", "date not shown on page"),
                               ("not_article", "not the article date")):
                if t[key]:
                    print(f"\n{tool}, {label}: {'; '.join(t[key])}")
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump({"trafilatura": version, "core": a.core, "reps": a.reps, "sets": results}, f, indent=1)


if __name__ == "__main__":
    main()
