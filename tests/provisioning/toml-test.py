#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Run toml-decoder over every case of toml-test's TOML 1.0.0 list.

usage: toml-test.py DECODER [TESTDATA]

Valid cases: exit 0, nothing on stderr, stdout equal (semantically, by
toml-test's json.go rules) to the expected JSON. Invalid cases: exit 1.
Prints "toml-test: V/210 valid, I/499 invalid" and fails on any miss.
"""
import calendar
import json
import math
import os
import re
import subprocess
import sys

DT_RE = re.compile(r'^(?:(\d{4})-(\d{2})-(\d{2}))?(?:[T ]?(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?)?'
                   r'(Z|[+-]\d{2}:\d{2})?$')


def norm_dt(kind, s):
    s = s.replace(' ', 'T').replace('t', 'T').replace('z', 'Z')
    m = DT_RE.match(s)
    if not m:
        raise ValueError('bad datetime %r' % s)
    y, mo, d, h, mi, sec, frac, off = m.groups()
    frac = (frac or '')[:3].ljust(3, '0')
    if kind == 'datetime':
        t = calendar.timegm((int(y), int(mo), int(d), int(h), int(mi), int(sec)))
        if off and off != 'Z':
            sign = 1 if off[0] == '+' else -1
            t -= sign * (int(off[1:3]) * 3600 + int(off[4:6]) * 60)
        return (t, frac)
    return (y, mo, d, h, mi, sec, frac, off)


def same(want, got, path='$'):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            return '%s: expected a table/value, got %r' % (path, got)
        if set(want) == {'type', 'value'} and isinstance(want.get('value'), str):
            if set(got) != {'type', 'value'}:
                return '%s: expected a value, got %r' % (path, got)
            return same_value(want, got, path)
        if set(want) != set(got):
            return '%s: keys differ: want %s got %s' % (path, sorted(want), sorted(got))
        for k in want:
            e = same(want[k], got[k], path + '.' + k)
            if e:
                return e
        return None
    if isinstance(want, list):
        if not isinstance(got, list) or len(want) != len(got):
            return '%s: arrays differ: want %r got %r' % (path, want, got)
        for i, (a, b) in enumerate(zip(want, got)):
            e = same(a, b, '%s[%d]' % (path, i))
            if e:
                return e
        return None
    return '%s: unexpected %r' % (path, want)


def same_value(want, got, path):
    t = want['type']
    if got['type'] != t:
        return '%s: type %s, expected %s' % (path, got['type'], t)
    a, b = want['value'], got['value']
    ok = False
    try:
        if t in ('string', 'integer'):
            ok = a == b
        elif t == 'bool':
            ok = a.lower() == b.lower()
        elif t == 'float':
            if a.endswith('nan') or b.endswith('nan'):
                ok = a.lstrip('+-') == b.lstrip('+-')
            else:
                ok = float(a) == float(b)
        else:
            ok = norm_dt(t, a) == norm_dt(t, b)
    except ValueError:
        ok = False
    return None if ok else '%s: value %r, expected %r' % (path, b, a)


def main():
    decoder = sys.argv[1]
    data = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.environ['COFFER_TESTDATA'],
                                                               'toml-test')
    tests = os.path.join(data, 'tests')
    with open(os.path.join(tests, 'files-toml-1.0.0')) as f:
        names = [l.strip() for l in f if l.strip().endswith('.toml')]
    vok = vall = iok = iall = 0
    fails = []
    for name in names:
        with open(os.path.join(tests, name), 'rb') as f:
            text = f.read()
        try:
            p = subprocess.run([decoder], input=text, capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            fails.append('%s: timeout' % name)
            if name.startswith('valid/'):
                vall += 1
            else:
                iall += 1
            continue
        if name.startswith('valid/'):
            vall += 1
            if p.returncode != 0 or p.stderr:
                fails.append('%s: exit %d: %s' % (name, p.returncode,
                                                  p.stderr.decode(errors='replace').strip()))
                continue
            with open(os.path.join(tests, name[:-5] + '.json'), 'rb') as f:
                want = json.load(f)
            try:
                got = json.loads(p.stdout)
            except ValueError as e:
                fails.append('%s: bad JSON from decoder: %s' % (name, e))
                continue
            e = same(want, got)
            if e:
                fails.append('%s: %s' % (name, e))
            else:
                vok += 1
        else:
            iall += 1
            if p.returncode == 1:
                iok += 1
            else:
                fails.append('%s: exit %d, expected 1' % (name, p.returncode))
    for f in fails:
        print('FAIL', f)
    print('toml-test: %d/%d valid, %d/%d invalid' % (vok, vall, iok, iall))
    return 0 if not fails and vall == 210 and iall == 499 else 1


if __name__ == '__main__':
    sys.exit(main())
