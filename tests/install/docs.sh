#!/bin/sh
# SPDX-License-Identifier: ISC
# Man pages and bash completion cover every program: each long option in a
# program's option table and each subcommand appears in its man page (as
# built, from docs/man/*.in) and in its completion table; the completion
# offers subcommands, per-subcommand options and option values as a shell
# user sees them.
set -eu
. "$COFFER_SRC/tests/helpers.sh"

S=$COFFER_SRC
COMPLETION=$S/dist/bash-completion/coffer
LC_ALL=C
export LC_ALL
command -v bash >/dev/null || fail "bash missing"

# prog section source...: the long options and subcommands in the sources.
check() {
	prog=$1 sec=$2
	shift 2
	page=$COFFER_BUILD/docs/$prog.$sec
	[ -f "$page" ] || fail "no man page $page"
	# The page's text without font changes and with plain hyphens.
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' "$page" >"$TMP/page"
	opts=$(cat "$@" | grep -oE '\{ ?\{?"[a-z][a-z0-9-]*", *(required_argument|no_argument|optional_argument|T_[A-Z]+)' |
		sed -E 's/^[{ ]*"([a-z0-9-]+)".*/\1/' | sort -u)
	subs=$(cat "$@" | grep -oE '\{ ?"[a-z][a-z0-9-]*", *(cmd_[a-z_]+|[a-z_]+_main)' |
		sed -E 's/^[{ ]*"([a-z0-9-]+)".*/\1/' | sort -u)
	[ -n "$opts" ] || fail "$prog: no options found in $*"
	# What the completion knows for this program: every option of every subcommand.
	known=$(bash -c '. "$1"; prog=$2
		case $prog in
		appliance-server) t=$_coffer_appliance_server ;;
		coffer-get) t=$_coffer_coffer_get ;;
		coffer-hsm) t=$_coffer_coffer_hsm ;;
		coffer-seal) t=$_coffer_coffer_seal ;;
		provision-master) t=$_coffer_provision_master ;;
		esac
		subs=$(_coffer_subcommands "$t")
		echo $subs
		for s in - $subs; do _coffer_options "$t" "$s"; done' _ "$COMPLETION" "$prog" | tr '\n' ' ')
	for o in $opts; do
		grep -qE -- "--$o([^a-z0-9-]|\$)" "$TMP/page" ||
			fail "$prog: --$o is not in $prog($sec) (docs/man/$prog.$sec.in)"
		echo " $known " | grep -q -- " --$o " ||
			fail "$prog: --$o is not in its completion table (dist/bash-completion/coffer)"
	done
	for c in $subs; do
		grep -qw -- "$c" "$TMP/page" || fail "$prog: subcommand $c is not in $prog($sec)"
		echo " $known " | grep -q -- " $c " ||
			fail "$prog: subcommand $c is not in its completion table"
	done
	echo "$prog: $(echo $opts | wc -w) options, $(echo $subs | wc -w) subcommands covered"
}

check appliance-server 8 "$S/appliance/cfg.c"
check coffer-get 1 "$S/clients/coffer-get.c"
check coffer-hsm 1 "$S/hsm/coffer-hsm.c"
check coffer-seal 1 "$S/provisioning/coffer-seal.c"
check provision-master 8 "$S/provisioning/provision-master.c"

# Every installed program has a page (docs/meson.build lists them).
for p in appliance-server coffer-get coffer-hsm coffer-seal provision-master; do
	ls "$COFFER_BUILD/docs/$p".[18] >/dev/null 2>&1 || fail "no man page for $p"
done

# ---- the completion as a user meets it ----
# complete WORDS...: the candidates bash offers for the last word.
complete_words() {
	bash -c '. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		compopt() { :; }
		_coffer_complete "$1"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$@" | sort | tr '\n' ' '
}
# expect WANT WORDS...: exactly these candidates.
expect() {
	want=$1
	shift
	got=$(complete_words "$@")
	[ "$got" = "$want " ] || fail "completing '$*': got '$got', want '$want'"
}
bash -c ". '$COMPLETION'; complete -p coffer-get coffer-hsm coffer-seal provision-master appliance-server" \
	>/dev/null || fail "the completion does not register the five programs"
expect 'id keygen serve' coffer-get ''
expect '--server --server-key' coffer-get --ser
expect '--socket' coffer-get serve --so
expect '' coffer-get --so
expect 'dotenv env json' coffer-get --format ''
expect 'toml yaml' coffer-seal seal --format ''
expect 'credential: env: file: prompt tpm2-sealed:' coffer-get serve --pin-source ''
expect 'credential:' appliance-server --pin-source cr
expect 'derive derive,sign sign' coffer-hsm keygen --usage ''
expect 'import-anchor' coffer-hsm imp
expect '--pin-source --pkcs11-module --plain-session' coffer-hsm keygen --p
expect '--trust-anchor' provision-master verify --tr
expect '' provision-master add-key --tr
expect 'sha256: token:' appliance-server --trust-anchor ''
expect 'debug error info warn' appliance-server --log-level ''
expect '--cache-ss --check --clock-skew --config' appliance-server --c
expect 'check id keygen seal' coffer-seal ''
# Files where a file goes; nothing after "--" (a command and its arguments).
mkdir "$TMP/d"
: >"$TMP/d/policy.txt"
expect "$TMP/d/policy.txt" coffer-get serve --policy "$TMP/d/pol"
expect "file:$TMP/d/policy.txt" coffer-get --pin-source "file:$TMP/d/pol"
expect '' coffer-get -- ls --for
echo "docs: ok"
