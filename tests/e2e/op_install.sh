#!/usr/bin/env bash
# Issue 11, install: `make install DESTDIR=…` installs exactly the files
# docs/install.md lists; `systemd-analyze verify` accepts both units (with
# the installed daemons' paths resolvable) without a warning; `man -l`
# renders each page without a warning; the bash completion completes
# commands. Touches only its own temp dirs.
set -euo pipefail
: "${PVX_BIN:?}" "${PVX_SRC:?}"
T=$(mktemp -d /tmp/pvx-opinst.XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
BUILD=$(dirname "$PVX_BIN")

make -s -C "$PVX_SRC" install BUILD="$BUILD" DESTDIR="$T/stage" PREFIX=/usr/local \
	>"$T/make.log" 2>&1 || fail "make install: $(tail -n 20 "$T/make.log")"
(cd "$T/stage/usr/local" && find . -type f -o -type l | sed 's|^\./||' | sort) >"$T/got"
awk '/<!-- install-list -->/ {on = 1; next} /<!-- \/install-list -->/ {on = 0}
	on && !/^```/ && NF {print}' "$PVX_SRC/docs/install.md" | sort >"$T/want"
[[ $(wc -l <"$T/want") -ge 9 ]] || fail "docs/install.md lists $(wc -l <"$T/want") files"
diff -u "$T/want" "$T/got" || fail "installed files differ from docs/install.md"
[[ -x $T/stage/usr/local/sbin/pv-ctrld && -x $T/stage/usr/local/bin/pvcontrol ]] ||
	fail "programs not executable"
grep -qx 'ExecStart=/usr/local/sbin/pv-xconnect --status /run/pvx/xc.sock' \
	"$T/stage/usr/local/lib/systemd/system/pv-xconnect.service" || fail "ExecStart path"
ok "make install DESTDIR=…: the $(wc -l <"$T/got") files of docs/install.md"

# The units, where the paths they name exist.
make -s -C "$PVX_SRC" install BUILD="$BUILD" PREFIX="$T/p" >"$T/make2.log" 2>&1 ||
	fail "make install PREFIX: $(tail -n 20 "$T/make2.log")"
U=$T/p/lib/systemd/system
MANPATH=$T/p/share/man systemd-analyze verify "$U/pv-ctrld.service" "$U/pv-xconnect.service" \
	>"$T/verify" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify")"
[[ ! -s $T/verify ]] || fail "systemd-analyze verify warns: $(cat "$T/verify")"
grep -q '^Before=pv-xconnect.service' "$U/pv-ctrld.service" || fail "ordering"
grep -q '^After=pv-ctrld.service' "$U/pv-xconnect.service" || fail "ordering"
grep -q '^Restart=on-failure' "$U/pv-xconnect.service" || fail "Restart="
ok "systemd-analyze verify: both units, no warning"

for page in man1/pvcontrol.1 man8/pv-ctrld.8 man8/pv-xconnect.8; do
	f=$T/p/share/man/$page
	MANWIDTH=80 man --warnings -l -P cat "$f" >"$T/page" 2>"$T/warn" || fail "man -l $page: $(cat "$T/warn")"
	[[ ! -s $T/warn ]] || fail "man -l $page warns: $(cat "$T/warn")"
	name=$(basename "$page" | sed 's/\.[0-9]$//')
	grep -q "^NAME" "$T/page" && grep -q "$name" "$T/page" || fail "man $page: $(head "$T/page")"
done
ok "man -l: the three pages render"

# The completion, against the installed pvcontrol.
out=$(PATH=$T/p/bin:$PATH bash -c '
	source "$1"
	complete -p pvcontrol >/dev/null || exit 1
	COMP_WORDS=(pvcontrol gr); COMP_CWORD=1; _pvcontrol; echo "${COMPREPLY[*]}"
	COMP_WORDS=(pvcontrol --json graph ""); COMP_CWORD=3; _pvcontrol; echo "${COMPREPLY[*]}"
	COMP_WORDS=(pvcontrol container re); COMP_CWORD=2; _pvcontrol; echo "${COMPREPLY[*]}"
	COMP_WORDS=(pvcontrol --js); COMP_CWORD=1; _pvcontrol; echo "${COMPREPLY[*]}"
' _ "$T/p/share/bash-completion/completions/pvcontrol") || fail "completion: $out"
[[ $out == $'graph\nls dot\nrestart\n--json' ]] || fail "completion gave: $out"
ok "bash completion: commands, subcommands, options"
