#!/bin/sh
# SPDX-License-Identifier: ISC
#
# ./quickstart.sh [--serve]: install, build, and run the demo.
set -eu
cd "$(dirname "$0")"

serve=0
for a in "$@"; do
	case "$a" in
	--serve) serve=1 ;;
	-h|--help)
		sed -n '3,4p' "$0"
		exit 0 ;;
	*) echo "usage: $0 [--serve]" >&2; exit 2 ;;
	esac
done

./scripts/install-deps.sh
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
echo "built: $(ls build/common/libcommon.a)"
