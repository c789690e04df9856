#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Write a coffer definition with many clients, for speed tests.

usage: gen-definition.py CLIENTS FORMAT(toml|yaml) OUT [SEED]

Each client gets a pseudo-random full identity and five secrets (string,
integer, float, boolean, offset date-time). Deterministic for a given seed.
"""
import random
import sys


def ident(rng):
    h = '%064X' % rng.getrandbits(256)
    return '-'.join(h[i:i + 4] for i in range(0, 64, 4))


def main():
    n = int(sys.argv[1])
    fmt = sys.argv[2]
    out = sys.argv[3]
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
    ids = [ident(rng) for _ in range(n)]
    w = []
    if fmt == 'toml':
        w.append('[clients]\n')
        for i, idt in enumerate(ids):
            w.append('client-%d = "%s"\n' % (i, idt))
        for i in range(n):
            w.append('\n[client-%d]\n' % i)
            w.append('db_password = "%032x"\n' % rng.getrandbits(128))
            w.append('port = %d\n' % rng.randrange(1, 65536))
            w.append('ratio = %r\n' % (rng.random(),))
            w.append('tls = %s\n' % ('true' if i % 2 else 'false'))
            w.append('rotated = 2026-11-%02dT12:%02d:00Z\n' % (i % 28 + 1, i % 60))
    elif fmt == 'yaml':
        w.append('clients:\n')
        for i, idt in enumerate(ids):
            w.append('  client-%d: %s\n' % (i, idt))
        for i in range(n):
            w.append('client-%d:\n' % i)
            w.append('  db_password: "%032x"\n' % rng.getrandbits(128))
            w.append('  port: %d\n' % rng.randrange(1, 65536))
            w.append('  ratio: %r\n' % (rng.random(),))
            w.append('  tls: %s\n' % ('true' if i % 2 else 'false'))
            w.append('  rotated: 2026-11-%02dT12:%02d:00Z\n' % (i % 28 + 1, i % 60))
    else:
        sys.exit('format must be toml or yaml')
    with open(out, 'w') as f:
        f.write(''.join(w))
    # The last client's identity, for a lookup check.
    print(ids[-1])


if __name__ == '__main__':
    main()
