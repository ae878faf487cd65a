#!/usr/bin/env python3
"""What "Cs-137 in NORM / clean" can reach, per member of a `lane-sim eval` family report: the
engine's ratio (Pd summed over the strengths in NORM cargo over the same in clean cargo, worst
speed), the matched-filter bound's (told the NORM load exactly: only its counts cost it), and an
engine of this one's clean sensitivity that lost only what the bound loses (the bound's loss of
Pd summed subtracted from the engine's clean sum). Prints a markdown table (docs/DETECTION.md).
Usage: scripts/in-norm-limit.py EVAL_DIR (an eval --out directory)."""
import glob
import os
import sys

SPEEDS = ['0.5 m/s', '1 m/s', '2.2 m/s', '4.5 m/s', 'stop-and-go', 'parked 30-120 s']


def load(f):
    out, kind, on = {}, None, False
    for line in open(f):
        if line.startswith('## '):
            on, kind = line.startswith('## Probability'), None
        if line.startswith('### ') and on:
            kind = line[4:].strip()
        if on and kind and line.startswith('| ') and '---' not in line and not line.startswith('| speed'):
            c = [x.strip() for x in line.strip().strip('|').split('|')]
            out[(kind, c[0], c[1])] = sum(float(x) for x in c[2:])
    return out


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    files = sorted(glob.glob(sys.argv[1] + '/members/*.md'))
    if not files:
        sys.exit("no member reports under %s/members" % sys.argv[1])
    print('| member | engine, worst speed | bound, worst speed | an engine of this clean sensitivity losing only what the bound loses, worst speed |')
    print('| --- | --- | --- | --- |')
    for f in files:
        o = load(f)
        e, b, x = [], [], []
        for s in SPEEDS:
            ec, en = o[('Cs-137', s, 'this engine')], o[('Cs-137 in NORM cargo', s, 'this engine')]
            bc, bn = o[('Cs-137', s, 'matched-filter bound')], o[('Cs-137 in NORM cargo', s, 'matched-filter bound')]
            e.append((en / ec, s))
            b.append((bn / bc, s))
            x.append(((ec - (bc - bn)) / ec, s))
        cell = lambda t: '%.3f (%s)' % min(t)
        print('| %s | %s | %s | %s |' % (os.path.basename(f)[:-3], cell(e), cell(b), cell(x)))


if __name__ == '__main__':
    main()
