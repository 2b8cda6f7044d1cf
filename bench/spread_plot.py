#!/usr/bin/env python3
"""The request-rate plot of BENCHMARKS.md (issue 13): polls starting per
second over one 10-minute period, before the spread (firing + jitter of at
most 30 s) and after (each unit's stable offset over the whole period).

Input: the CSV `bench_cycle --spread UNITS OUT.csv` writes
(`second,before,after`). Output: an SVG (standard library only) and, on
stdout, an ASCII histogram in one-minute bins for the Markdown.

    ./target/release/examples/bench_cycle --spread 20000 /tmp/spread.csv
    python3 bench/spread_plot.py /tmp/spread.csv bench/spread-20000.svg

With a third argument, the CSV `bench_cycle --live-spread UNITS DIR OUT.csv`
writes (`second,polls`: the real daemon's polls counted at the loopback
sites), a third panel shows what was measured.
"""
import csv
import sys

src, out = sys.argv[1], sys.argv[2]
live_src = sys.argv[3] if len(sys.argv) > 3 else None
rows = [(int(r["second"]), int(r["before"]), int(r["after"]))
        for r in csv.DictReader(open(src))]
if live_src:
    live = {int(r["second"]): int(r["polls"]) for r in csv.DictReader(open(live_src))}
    rows = [r + (live.get(r[0], 0),) for r in rows]
units = sum(r[1] for r in rows)
period = len(rows)

W, H, PAD_L, PAD_R, PAD_T, PANEL_H, GAP = 760, 420, 60, 20, 30, 150, 50
if live_src:
    H += PANEL_H + GAP


def panel(y0, col, title, color):
    vals = [r[col] for r in rows]
    top = max(vals) or 1
    plot_w = W - PAD_L - PAD_R
    bw = plot_w / period
    parts = [f'<text x="{PAD_L}" y="{y0 - 8}" font-size="13">{title}</text>',
             f'<line x1="{PAD_L}" y1="{y0 + PANEL_H}" x2="{W - PAD_R}" y2="{y0 + PANEL_H}" stroke="#333"/>',
             f'<line x1="{PAD_L}" y1="{y0}" x2="{PAD_L}" y2="{y0 + PANEL_H}" stroke="#333"/>',
             f'<text x="{PAD_L - 6}" y="{y0 + 10}" font-size="11" text-anchor="end">{top}</text>',
             f'<text x="{PAD_L - 6}" y="{y0 + PANEL_H}" font-size="11" text-anchor="end">0</text>']
    for s, v in enumerate(vals):
        if v:
            h = PANEL_H * v / top
            parts.append(f'<rect x="{PAD_L + s * bw:.2f}" y="{y0 + PANEL_H - h:.2f}" '
                         f'width="{max(bw, 1):.2f}" height="{h:.2f}" fill="{color}"/>')
    for m in range(0, period // 60 + 1):
        x = PAD_L + m * 60 * bw
        parts.append(f'<text x="{x:.1f}" y="{y0 + PANEL_H + 14}" font-size="11" '
                     f'text-anchor="middle">{m}</text>')
    return parts


svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
       f'font-family="sans-serif">',
       f'<rect width="{W}" height="{H}" fill="white"/>']
svg += panel(PAD_T, 1, f"Before: {units} units, polls starting per second "
             f"(firing + jitter ≤ 30 s)", "#c0392b")
svg += panel(PAD_T + PANEL_H + GAP, 2, "After: stable per-unit offset over "
             "the 10-minute period (y-axis: own scale)", "#2471a3")
if live_src:
    svg += panel(PAD_T + 2 * (PANEL_H + GAP), 3, "Measured: the daemon's polls "
                 "per second at the loopback sites (--live-spread)", "#1e8449")
svg.append(f'<text x="{W / 2}" y="{H - 6}" font-size="12" text-anchor="middle">'
           f'minutes after the firing</text>')
svg.append('</svg>')
with open(out, "w") as f:
    f.write("\n".join(svg) + "\n")

BIN = 60
scale = max(sum(r[1] for r in rows[b:b + BIN]) for b in range(0, period, BIN))
print(f"polls per {BIN} s bin, {units} units; # = {scale // 50 or 1} polls")
print(f"{'from':>6}  {'before':>7} {'after':>6}" + (f" {'live':>6}" if live_src else ""))
for b in range(0, period, BIN):
    bef = sum(r[1] for r in rows[b:b + BIN])
    aft = sum(r[2] for r in rows[b:b + BIN])
    liv = sum(r[3] for r in rows[b:b + BIN]) if live_src else None
    bar = "#" * round(aft / (scale / 50)) if aft else ""
    bar_b = "#" * round(bef / (scale / 50)) if bef else ""
    col = f" {liv:>6}" if live_src else ""
    pad = f" {'':>6}" if live_src else ""
    print(f"{b // 60:>3}:{b % 60:02d}  {bef:>7} {aft:>6}{col}  before {bar_b}")
    print(f"{'':>6}  {'':>7} {'':>6}{pad}  after  {bar}")
    if live_src:
        bar_l = "#" * round(liv / (scale / 50)) if liv else ""
        print(f"{'':>6}  {'':>7} {'':>6}{pad}  live   {bar_l}")
