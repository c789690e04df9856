#!/bin/sh
# SPDX-License-Identifier: ISC
# Name resolution is bounded by --timeout: with a resolver that never
# answers, coffer-get gives up at its deadline (exit 4, "timed out") instead
# of waiting for the resolver's own timeouts. The host's resolv.conf is
# replaced, in a private mount namespace, by one naming a silent DNS server
# on a loopback address.
set -eu
. "$COFFER_SRC/tests/helpers.sh"
. "$COFFER_SRC/tests/clients/lib.sh"

command -v unshare >/dev/null || fail "unshare (util-linux) not installed"
if ! unshare -m true 2>/dev/null; then
	echo "no mount namespaces here (unshare -m refused): cannot replace resolv.conf" >&2
	exit 77
fi

# A DNS server that reads queries, notes them, and never answers.
NS=127.$(( $(od -An -N1 -tu1 /dev/urandom) % 200 + 20 )).$(( $(od -An -N1 -tu1 /dev/urandom) % 250 + 1 )).1
python3 - "$NS" "$TMP/queries" "$TMP/ns.ready" <<'PY' &
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
open(sys.argv[3], "w").close()
while True:
    data, peer = s.recvfrom(4096)
    with open(sys.argv[2], "a") as f:
        f.write("query %d bytes\n" % len(data))
PY
track_pid $!
for _ in $(seq 100); do [ -e "$TMP/ns.ready" ] && break; sleep 0.05; done
[ -e "$TMP/ns.ready" ] || fail "silent DNS server did not start"
printf 'nameserver %s\noptions timeout:30 attempts:3\n' "$NS" > "$TMP/resolv.conf"

start=$(date +%s%N)
st=0
timeout 60 unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"' sh \
	"$TMP/resolv.conf" coffer-get --server slow.coffer-test.example:9187 \
	--server-key "$TMP/server_pub.pem" --key "$TMP/client.pem" --timeout 1 \
	> "$TMP/out" 2> "$TMP/err" || st=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
cat "$TMP/err" >&2
[ -s "$TMP/queries" ] || fail "the resolver never asked the silent server (test set-up)"
[ "$st" -eq 4 ] || fail "exit $st after ${ms} ms (expected 4, network, at the 1 s deadline)"
grep -q 'resolve slow.coffer-test.example: timed out' "$TMP/err" || fail "no resolve timeout message"
[ "$ms" -lt 5000 ] || fail "resolution took ${ms} ms with --timeout 1"
echo "gave up after ${ms} ms"
echo ok
