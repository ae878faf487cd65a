#!/usr/bin/env python3
"""Compares two `lane-sim eval` family reports by "Pd summed": the engine's probability of
detection added over every tested strength, speed and member, per source type (and per speed for
Cs-137 and Co-60). On a grid of strengths a factor 2 apart with 4-8 passes per cell, MDS95 moves
in steps; the sum is the steadier figure for an A/B comparison of two engines on the same suite
(same seeds). Usage: scripts/pd-summed.py BEFORE_DIR AFTER_DIR (each an eval --out directory)."""
import glob
import os
import sys


def load(d):
    out = {}
    for f in sorted(glob.glob(d + '/members/*.md')):
        member = os.path.basename(f)[:-3]
        kind, on = None, False
        for line in open(f):
            if line.startswith('## '):
                on, kind = line.startswith('## Probability'), None
            if line.startswith('### ') and on:
                kind = line[4:].strip()
            if on and kind and line.startswith('| ') and '| this engine |' in line:
                cells = [c.strip() for c in line.strip().strip('|').split('|')]
                out[(member, kind, cells[0])] = sum(float(x) for x in cells[2:])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = load(sys.argv[1]), load(sys.argv[2])
    if not a or not b:
        sys.exit("no member reports with Pd tables found under %s/members" % (sys.argv[1] if not a else sys.argv[2]))
    kinds = {}
    for k in a:
        if k in b:
            kinds.setdefault(k[1], [0.0, 0.0])
            kinds[k[1]][0] += a[k]
            kinds[k[1]][1] += b[k]
    print("%-25s %9s %9s %8s" % ("source", "before", "after", "change"))
    for k, (x, y) in kinds.items():
        print("%-25s %9.2f %9.2f %+8.2f" % (k, x, y, y - x))
    for kind in ("Cs-137", "Co-60"):
        speeds = {}
        for k in a:
            if k[1] == kind and k in b:
                speeds.setdefault(k[2], [0.0, 0.0])
                speeds[k[2]][0] += a[k]
                speeds[k[2]][1] += b[k]
        print(kind + ": " + ", ".join("%s %.2f -> %.2f" % (s, x, y) for s, (x, y) in speeds.items()))


if __name__ == "__main__":
    main()
