#!/bin/sh
# SPDX-License-Identifier: ISC
# The Debian-shaped install: configure this source tree with --prefix=/usr
# --sysconfdir=/etc --localstatedir=/var (without the tests), build, install
# into a DESTDIR, and check that
#  - exactly the files of tests/install/expected-files are installed;
#  - every program has its man page, whose default paths are the build's and
#    agree with what the program itself says (--help);
#  - the units' StateDirectory/LogsDirectory/RuntimeDirectory, tmpfiles.d and
#    the example configuration agree with the built-in defaults;
#  - systemd-analyze verify accepts every unit (binaries, Documentation= man
#    pages and files present), systemd-sysusers and systemd-tmpfiles make the
#    user and the directories with the right modes;
#  - the example configurations parse.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

for t in systemd-analyze systemd-sysusers systemd-tmpfiles; do
	command -v "$t" >/dev/null || fail "$t missing (./test.sh installs systemd)"
done

BUILD=$TMP/build
ROOT=$TMP/root
nice meson setup "$BUILD" "$COFFER_SRC" --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
	-Dtests=false -Dbuildtype=plain >"$TMP/setup.log" 2>&1 ||
	{ cat "$TMP/setup.log" >&2; fail "meson setup"; }
grep -q "WARNING" "$TMP/setup.log" && { cat "$TMP/setup.log" >&2; fail "meson setup warns"; }
nice ninja -C "$BUILD" >"$TMP/build.log" 2>&1 || { tail -n 40 "$TMP/build.log" >&2; fail "build"; }
DESTDIR=$ROOT meson install -C "$BUILD" --no-rebuild --quiet >"$TMP/install.log" 2>&1 ||
	{ cat "$TMP/install.log" >&2; fail "meson install"; }

# ---- the file list ----
libdir=$(meson introspect "$BUILD" --buildoptions |
	python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="libdir"][0])')
(cd "$ROOT" && find . ! -type d | sed -e 's|^\./||' -e "s|^usr/$libdir/|usr/LIBDIR/|" | sort) \
	>"$TMP/files"
grep -v '^#' "$COFFER_SRC/tests/install/expected-files" | sort >"$TMP/want"
diff -u "$TMP/want" "$TMP/files" || fail "the installed files differ from tests/install/expected-files"
# The completion is one file, linked under the other four names.
for p in appliance-server coffer-hsm coffer-seal provision-master; do
	[ "$(readlink "$ROOT/usr/share/bash-completion/completions/$p")" = coffer-get ] ||
		fail "completion for $p is not a link to coffer-get's"
done

# ---- programs, man pages, built-in defaults ----
export LD_LIBRARY_PATH="$ROOT/usr/$libdir"
for b in "$ROOT"/usr/bin/* "$ROOT"/usr/sbin/*; do
	n=$(basename "$b")
	ls "$ROOT/usr/share/man/man"[18]/"$n".[18] >/dev/null 2>&1 || fail "no man page for $n"
done
grep -rl '@[a-z_]*@' "$ROOT/usr/share" "$ROOT/usr/lib/systemd" "$ROOT/usr/lib/sysusers.d" \
	"$ROOT/usr/lib/tmpfiles.d" && fail "an unsubstituted @name@ above"
M=$ROOT/usr/share/man
grep -q '/etc/coffer/client.yaml' "$M/man1/coffer-get.1" || fail "coffer-get(1): default config"
grep -q '/run/coffer/credentials.sock' "$M/man1/coffer-get.1" || fail "coffer-get(1): socket"
grep -q '/var/lib/coffer/appliance.state' "$M/man8/appliance-server.8" ||
	fail "appliance-server(8): default state file"
grep -q '"coffer [0-9]' "$M/man1/coffer-hsm.1" || fail "coffer-hsm(1): version"
"$ROOT/usr/bin/coffer-get" --help | grep -q 'default /etc/coffer/client.yaml' ||
	fail "coffer-get --help: default config is not /etc/coffer/client.yaml"
"$ROOT/usr/bin/coffer-get" --help | grep -q '/run/coffer/credentials.sock' ||
	fail "coffer-get --help: default socket"
"$ROOT/usr/sbin/appliance-server" --help | grep -q 'default /var/lib/coffer/appliance.state' ||
	fail "appliance-server --help: default state file"

# ---- units against the built-in defaults ----
U=$ROOT/usr/lib/systemd/system
unit_has() {
	grep -qx "$2" "$U/$1" || fail "$1 lacks $2"
}
unit_has appliance-server.service 'StateDirectory=coffer'
unit_has appliance-server.service 'StateDirectoryMode=0700'
unit_has appliance-server.service 'LogsDirectory=coffer'
unit_has appliance-server.service 'LogsDirectoryMode=0750'
unit_has appliance-server.service 'ExecStart=/usr/sbin/appliance-server --config /etc/coffer/appliance.yaml'
unit_has appliance-server.service 'User=coffer'
unit_has appliance-server.socket 'ListenStream=9187'
unit_has coffer-credentials.socket 'ListenStream=/run/coffer/credentials.sock'
unit_has coffer-credentials.socket 'SocketMode=0600'
unit_has coffer-credentials.service 'RuntimeDirectory=coffer'
unit_has coffer-credentials.service 'RuntimeDirectoryMode=0755'
unit_has coffer-credentials.service 'RuntimeDirectoryPreserve=yes'
unit_has coffer-credentials.service \
	'ExecStart=/usr/bin/coffer-get serve --socket /run/coffer/credentials.sock'
unit_has coffer-bundle-pull.service 'WorkingDirectory=/var/lib/coffer/bundle'
# The example config writes the audit log where LogsDirectory= is, and keeps
# the bundle where the pull unit pulls.
EX=$ROOT/usr/share/doc/coffer/examples
grep -qx 'audit-log: /var/log/coffer/audit.jsonl' "$EX/appliance.yaml" || fail "example audit-log"
grep -qx 'bundle: /var/lib/coffer/bundle' "$EX/appliance.yaml" || fail "example bundle"
# Every page of docs/ is installed (docs/meson.build lists them), and every
# Documentation= file exists in the install.
for f in "$COFFER_SRC"/docs/*.md; do
	[ -f "$ROOT/usr/share/doc/coffer/${f##*/}" ] ||
		fail "docs/${f##*/} is not installed: add it to docs/meson.build and expected-files"
done
for f in $(sed -n 's|^Documentation=.*file://\([^ ]*\).*|\1|p' "$U"/*); do
	[ -f "$ROOT$f" ] || fail "a unit names $f, which is not installed"
done

# ---- systemd itself: verify, sysusers, tmpfiles ----
# A root with the install, the distribution's own units (targets the ours
# refer to) and the tools the units run.
V=$TMP/vroot
cp -a "$ROOT" "$V"
mkdir -p "$V/usr/lib/systemd/system"
cp -an /lib/systemd/system/. "$V/usr/lib/systemd/system/"
for t in /bin/kill /bin/sh /bin/systemctl git; do
	src=$(command -v "$t") || fail "$t missing"
	case $t in /*) dst=$V$t ;; *) dst=$V/usr/bin/$t ;; esac
	mkdir -p "$(dirname "$dst")"
	cp "$src" "$dst"
done
units=$(cd "$ROOT/usr/lib/systemd/system" && ls)
[ "$(echo "$units" | wc -l)" = 6 ] || fail "expected 6 units: $units"
(cd "$V/usr/lib/systemd/system" &&
	MANPATH=$ROOT/usr/share/man systemd-analyze verify --root="$V" --man=yes $units) \
	>"$TMP/verify" 2>&1 || { cat "$TMP/verify" >&2; fail "systemd-analyze verify failed"; }
[ ! -s "$TMP/verify" ] || { cat "$TMP/verify" >&2; fail "systemd-analyze verify complains"; }

mkdir -p "$V/etc"
systemd-sysusers --root="$V" >"$TMP/sysusers" 2>&1 || { cat "$TMP/sysusers" >&2; fail "systemd-sysusers"; }
grep -q '^coffer:x:[0-9]*:[0-9]*:Coffer secrets appliance:/var/lib/coffer:' "$V/etc/passwd" ||
	fail "sysusers made no coffer user: $(cat "$V/etc/passwd")"
grep -q '^coffer:x:' "$V/etc/group" || fail "sysusers made no coffer group"
systemd-tmpfiles --root="$V" --create "$V/usr/lib/tmpfiles.d/coffer.conf" >"$TMP/tmpfiles" 2>&1 ||
	{ cat "$TMP/tmpfiles" >&2; fail "systemd-tmpfiles"; }
uid=$(grep '^coffer:' "$V/etc/passwd" | cut -d: -f3)
mode_owner() {
	[ "$(stat -c '%a %u' "$V$1")" = "$2" ] || fail "$1: $(stat -c '%a %u' "$V$1"), expected $2"
}
mode_owner /var/lib/coffer "700 $uid"
mode_owner /var/log/coffer "750 $uid"
mode_owner /run/coffer "755 0"

# ---- the examples parse ----
# appliance.yaml: the configuration is accepted; the start stops at the
# first missing file (the bundle), not at the YAML.
status 1 "$ROOT/usr/sbin/appliance-server" --config "$EX/appliance.yaml" --bundle "$TMP/none" --check
says "bundle $TMP/none"
# client.yaml: parsed; the fetch stops at the first missing file it names.
status 2 "$ROOT/usr/bin/coffer-get" --config "$EX/client.yaml"
grep -q 'config:' "$TMP/err" && fail "example client.yaml does not parse: $(cat "$TMP/err")"
says "/etc/coffer/coffer1_public.pem"
echo "install: ok"
