#!/usr/bin/env python3
"""A config of N units for timing `autosync check` (BENCHMARKS.md, "The
whole matrix"): a national unit and a tree under it (ten children each),
every unit with a feed on a closed local port and a file publisher, so
nothing is fetched or posted.

    python3 bench/matrix_config.py 20000 > c20000.toml
    /usr/bin/time autosync check -c c20000.toml
"""
import sys

n = int(sys.argv[1])
out = ['[daemon]', f'state_dir = "state{n}"', '']
for i in range(n):
    out += ['[[unit]]', f'id = "u{i}"', f'account_name = "单位{i % 1000}"',
            f'org_name = "单位{i}科学技术协会"',
            'level = "county"' if i else 'level = "national"']
    if i:
        out.append(f'parent = "u{(i - 1) // 10}"')
    out += [f'site = "http://127.0.0.1:9/s{i}/"', '  [[unit.source]]',
            f'  feed = "http://127.0.0.1:9/s{i}/rss.xml"', '  [[unit.publisher]]',
            '  kind = "file"', f'  dir = "out/u{i}"', '']
sys.stdout.write('\n'.join(out))
