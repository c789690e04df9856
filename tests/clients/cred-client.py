#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Connect to a credential provider the way systemd's LoadCredential= does.

  cred-client.py SOCKET UNIT NAME      bind \\0<random hex>/unit/UNIT/NAME, connect,
                                       shut down the write side, print what arrives
  cred-client.py --raw HEX SOCKET      bind exactly these address bytes (hex; ""
                                       leaves the socket unbound), then the same
  cred-client.py --path P SOCKET       bind to the file-system path P instead
Options before the rest:
  --hold SECONDS   connect, never read, sleep, then exit (a peer that stalls)
  --send BYTES     write this many bytes before reading (a peer that talks)
Exit: 0 connected (stdout: the bytes received, nothing when refused),
3 the connect itself failed (e.g. EACCES on the socket file).
"""
import os
import random
import socket
import sys
import time

args = sys.argv[1:]
hold = None
send = 0
raw = None
path = None
while args and args[0].startswith("--"):
    opt = args.pop(0)
    if opt == "--hold":
        hold = float(args.pop(0))
    elif opt == "--send":
        send = int(args.pop(0))
    elif opt == "--raw":
        raw = bytes.fromhex(args.pop(0))
    elif opt == "--path":
        path = args.pop(0)
    else:
        sys.exit("unknown option " + opt)

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
if raw is not None:
    target = args[0]
    if raw:
        s.bind(raw)
elif path is not None:
    target = args[0]
    s.bind(path)
else:
    target, unit, name = args
    s.bind(("\0%x/unit/%s/%s" % (random.getrandbits(64), unit, name)).encode())
try:
    s.connect(target)
except OSError as e:
    print("connect: %s" % e, file=sys.stderr)
    sys.exit(3)
if hold is not None:
    time.sleep(hold)
    sys.exit(0)
if send:
    try:
        s.sendall(b"x" * send)
    except OSError:
        pass
s.shutdown(socket.SHUT_WR)
s.settimeout(20)
out = b""
while True:
    try:
        chunk = s.recv(65536)
    except ConnectionResetError:
        break
    if not chunk:
        break
    out += chunk
os.write(1, out)
