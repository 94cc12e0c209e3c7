#!/usr/bin/env bash
# Hostile state sources for POST /state/reload (issue 2, done-when 3): the
# state file emptied, deleted, made a symlink to /dev/zero, a directory
# whose run.json is a FIFO, and the state file itself a FIFO. Each reload
# must be answered (400) within 2 s with an error list, the graph must stay
# byte-identical, and the daemon must keep serving; a good file afterwards
# reloads. Unix socket only, pv-ctrld --no-runtime.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid
ST=$T/state.json
cp "$EX/state.json" "$ST"
start_ctrld "$ST"
api -D "$T/h0" -o "$T/g0" http://pvx/xconnect-graph
grep -q '"10.0.4.2:80"' "$T/g0" || fail "start graph: $(cat "$T/g0")"

unchanged() {
	alive "$1"
	api -o "$T/g1" http://pvx/xconnect-graph || fail "no graph after $1"
	cmp -s "$T/g0" "$T/g1" || fail "graph changed after $1"
}

# reload_refused WHAT: POST /state/reload answers 400 with errors in 2 s.
reload_refused() {
	local code
	code=$(curl -sS --max-time 2 --unix-socket "$SOCK" -o "$T/body" \
		-w '%{http_code}' -X POST http://pvx/state/reload) || {
		# A daemon stuck in open(2) ignores SIGTERM: the cleanup
		# would wait for it forever.
		kill -KILL "$CTRLD" 2>/dev/null || true
		fail "$1: no answer to POST /state/reload within 2 s"
	}
	[[ $code == 400 ]] || fail "$1: HTTP $code, want 400: $(head -c 300 "$T/body")"
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j.get("errors"), j' "$T/body" ||
		fail "$1: 400 without an error list: $(head -c 300 "$T/body")"
	unchanged "$1"
	ok "$1: 400 ($(head -c 120 "$T/body"))"
}

: >"$ST"
reload_refused "state file emptied"
rm -f "$ST"
reload_refused "state file deleted"
ln -s /dev/zero "$ST"
reload_refused "state file a symlink to /dev/zero"
rm -f "$ST"
printf '{"#spec": "pantavisor-service-system@1", "device.json": ' >"$ST"
reload_refused "state file cut short"

rm -f "$ST"
cp "$EX/state.json" "$ST"
[[ $(status_of -X POST http://pvx/state/reload) == 200 ]] || fail "good reload: $(cat "$T/body")"
unchanged "a good reload"

stop_ctrld

# A directory state whose run.json is a FIFO (a second daemon).
D=$T/dir
cp -r "$PVX_SRC/examples/mesh-unix" "$D"
SOCK=$T/run/pv-ctrl2
start_ctrld "$D"
api -o "$T/g0" http://pvx/xconnect-graph
rm -f "$D/app/run.json"
mkfifo "$D/app/run.json"
reload_refused "directory state with a FIFO run.json"
stop_ctrld

SOCK=$T/run/pv-ctrl3
cp "$EX/state.json" "$ST"
start_ctrld "$ST"
api -o "$T/g0" http://pvx/xconnect-graph
# The state file replaced by a FIFO with no writer: opening it blocks, so
# a loader that opens it in the event loop stops the whole daemon.
rm -f "$ST"
mkfifo "$ST"
reload_refused "state file a FIFO"
rm -f "$ST"
cp "$EX/state.json" "$ST"
[[ $(status_of -X POST http://pvx/state/reload) == 200 ]] || fail "good reload after FIFO: $(cat "$T/body")"

stop_ctrld
