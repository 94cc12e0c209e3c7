#!/usr/bin/env bash
# Issue 11, pvcontrol as a new user meets it: --version on the three
# programs; options anywhere on the line; a usage error names the problem
# in one line, then the usage of that command only; a missing socket or the
# wrong one says what to do; `graph ls` has no two columns of one name;
# `graph dot` of ingress-hybrid is a graph Graphviz renders; --help, the
# man page and docs/api.md list the same commands. Unix sockets only
# (pv-ctrld --no-runtime).
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

PVC=$PVX_BIN/pvcontrol
for p in pv-ctrld pv-xconnect pvcontrol; do
	v=$("$PVX_BIN/$p" --version) || fail "$p --version failed"
	[[ $v =~ ^$p\ \(pvx\)\ [0-9]+\.[0-9]+\.[0-9]+$ ]] || fail "$p --version: '$v'"
done
ok "--version: $v"

# usage_err WANT_LINE1_REGEX WANT_USAGE_REGEX ARGS…: exit 2, first line
# names the problem, then only usage lines of that command (no list of
# every command).
usage_err() {
	local want=$1 use=$2 rc=0
	shift 2
	"$PVC" --ctrl "$SOCK" "$@" >"$T/out" 2>"$T/err" || rc=$?
	((rc == 2)) || fail "pvcontrol $*: exit $rc, want 2"
	head -n1 "$T/err" | grep -qE "$want" || fail "pvcontrol $*: first line: $(head -n1 "$T/err")"
	tail -n +2 "$T/err" | grep -qE "$use" || fail "pvcontrol $*: usage: $(cat "$T/err")"
	! grep -q "^commands:" "$T/err" || fail "pvcontrol $*: whole usage printed: $(cat "$T/err")"
	ok "pvcontrol $*: $(head -n1 "$T/err")"
}
usage_err "graph: unknown subcommand 'lst' \(did you mean 'graph ls'\?\)" "^usage: pvcontrol \[OPTIONS\] graph ls$" graph lst
usage_err "container: unknown subcommand 'ls' \(did you mean 'containers ls'\?\)" "container adopt NAME PID" container ls
usage_err "unknown command 'grpah' \(did you mean 'graph'\?\)" "graph ls" grpah ls
usage_err "container adopt: missing PID" "^usage: pvcontrol \[OPTIONS\] container adopt NAME PID$" container adopt web
usage_err "state load: missing FILE\|DIR" "state load FILE\|DIR" state load
usage_err "graph ls: unexpected argument 'x'" "graph ls" graph ls x
usage_err "unknown option '--jsn'" "graph ls" graph ls --jsn

# A missing socket: a hint to start pv-ctrld or to pass --ctrl.
rc=0
"$PVC" --ctrl "$T/none.sock" containers ls 2>"$T/err" || rc=$?
((rc == 3)) || fail "missing socket: exit $rc, want 3"
grep -q "no control socket at $T/none.sock: is pv-ctrld running? Start it (.*) or pass --ctrl SOCK" "$T/err" ||
	fail "missing socket: $(cat "$T/err")"
ok "missing socket: $(cat "$T/err")"

start_ctrld "$PVX_SRC/examples/ingress-hybrid"

# Options anywhere on the line.
"$PVC" graph ls --json --ctrl "$SOCK" >"$T/g.json" 2>"$T/err" || fail "graph ls --json --ctrl S: $(cat "$T/err")"
"$PY" -c 'import json,sys; g=json.load(open(sys.argv[1])); assert g[0]["socket"] == "10.0.4.2:80", g' "$T/g.json" ||
	fail "graph ls --json: $(cat "$T/g.json")"
"$PVC" containers --ctrl="$SOCK" ls >/dev/null || fail "containers --ctrl=S ls"
ok "options after the command"

# graph ls: every column named once.
hdr=$("$PVC" --ctrl "$SOCK" graph ls | head -n1)
dups=$(tr -s ' ' '\n' <<<"$hdr" | sort | uniq -d)
[[ -z $dups ]] || fail "graph ls: columns named twice: $dups ($hdr)"
ok "graph ls header: $hdr"

# pv-ctrld's socket given as the status socket.
rc=0
"$PVC" --status "$SOCK" links ls 2>"$T/err" || rc=$?
((rc == 3)) || fail "links ls on the control socket: exit $rc, want 3"
grep -q "not pv-xconnect's status socket (pv-ctrld's control socket?" "$T/err" ||
	fail "links ls on the control socket: $(cat "$T/err")"
ok "wrong socket: $(cat "$T/err")"

# graph dot: Graphviz parses it; ports, the pool, the container with its
# address and the links are in the picture.
"$PVC" --ctrl "$SOCK" graph dot >"$T/mesh.dot" || fail "graph dot"
dot -Tsvg "$T/mesh.dot" >"$T/mesh.svg" 2>"$T/err" || fail "dot -Tsvg: $(cat "$T/err") on $(cat "$T/mesh.dot")"
[[ ! -s $T/err ]] || fail "dot warnings: $(cat "$T/err")"
"$PY" - "$T/mesh.svg" <<'PY' || fail "svg: $(cat "$T/mesh.dot")"
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
text = " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text"))
for want in ("0.0.0.0:80", "0.0.0.0:443", "pool internal", "example-nginx-ingress",
             "eth0 10.0.4.2/24", "tcp nginx-http", "10.0.4.2:80", "device ports"):
    assert want in text, (want, text)
PY
ok "graph dot | dot -Tsvg: ports, pool, container with address, links"

# One list of commands: --help, the man page and docs/api.md.
"$PVC" --help | awk '/^commands:/{on=1; next} /^$/{on=0} on {print $1, $2}' >"$T/help.list"
man -l -P cat "$PVX_SRC/docs/man/pvcontrol.1" 2>/dev/null |
	awk '/^COMMANDS/{on=1; next} /^[A-Z]/{on=0} on && /^       [a-z]+ [a-z]+/ {print $1, $2}' >"$T/man.list"
awk '/^## pvcontrol/{on=1} on && /^pvcontrol \[OPTIONS\] [a-z]+ [a-z]+/ {print $3, $4}' \
	"$PVX_SRC/docs/api.md" >"$T/api.list"
[[ $(wc -l <"$T/help.list") -ge 10 ]] || fail "--help lists $(wc -l <"$T/help.list") commands"
diff -u "$T/help.list" "$T/man.list" || fail "--help and the man page differ"
diff -u "$T/help.list" "$T/api.list" || fail "--help and docs/api.md differ"
ok "--help, man page and docs/api.md: the same $(wc -l <"$T/help.list") commands"
stop_ctrld
