#!/usr/bin/env bash
# Issue 9, done-when 4: `pvcontrol links ls` shows a link's backend `down`
# (since when, last error) within 5 s of the backend dying with no
# traffic at all (the idle link's probe finds it), and `up` again after it
# returns; `pvcontrol --json links ls` gives the raw fields. A Unix backend is not probed by
# default (stays `unknown` without traffic), and is with --health-unix.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"
ING="$PVX_SRC/tests/e2e/lib/ingpeers.py"

PB=$(freeport)
backend_up() {
	spawn counted "$PY" -u "$ING" counted "127.0.0.1:$PB" "$TMP/accepts"
	BE_PID=$SPAWNED
	wait_ready counted "$BE_PID"
}
spawn ux "$PY" -u "$ING" counted "$TMP/u.sock" "$TMP/uaccepts"
wait_ready ux
backend_up
P=$(freeport)
PU=$(freeport)
write_graph "$(link_json web "0.0.0.0:$P" "127.0.0.1:$PB")" \
	"$(link_json ux "0.0.0.0:$PU" "$TMP/u.sock")"
start_xc --health-interval 1000
wait_listen "$P"
pvc() { "$PVX_BIN/pvcontrol" --status "$TMP/status.sock" "$@"; }
row() { pvc links ls | awk -v n="$1" '$1 == n'; }
is_health() { [[ $(status_field "$1" health) == "$2" ]]; }

until_ms 5000 is_health web up >/dev/null || fail "web not up: $(pvc links ls)"
row web | grep -q ' up ' || fail "links ls does not show up: $(row web)"
[[ -n $(status_field web connect_ms_last) ]] || fail "no connect latency"
log "idle link probed: up ($(status_field web connect_ms_last) ms)"

kill -KILL "$BE_PID"
wait "$BE_PID" 2>/dev/null || true
until_ms 5000 is_health web down >/dev/null || fail "web not down within 5 s: $(pvc links ls)"
row web | grep -q 'down since [0-9:]* (Connection refused)' || fail "links ls: $(row web)"
pvc --json links ls >"$TMP/ls.json"
"$PY" - "$TMP/ls.json" <<'PY' || fail "links ls --json: $(cat "$TMP/ls.json")"
import json, sys, time
w = [l for l in json.load(open(sys.argv[1])) if l["name"] == "web"][0]
assert w["health"] == "down", w
assert abs(time.time() - w["down_since"]) < 60, w
assert w["last_error"] == "Connection refused", w
assert w["held"] == 0 and w["accepted"] == 0, w
assert "connect_ms_avg" in w, w
PY
log "backend killed, no traffic: down since T (Connection refused), raw in --json"

backend_up
until_ms 5000 is_health web up >/dev/null || fail "web not up again: $(pvc links ls)"
[[ $(status_field web accepted) == 0 ]] || fail "the probes counted as connections"
log "backend back: up again"

[[ $(status_field ux health) == unknown ]] || fail "unix backend probed by default: $(status_field ux health)"
[[ ! -e $TMP/uaccepts ]] || fail "the Unix backend saw a probe"
"$PY" "$ING" fetch "127.0.0.1:$PU" >/dev/null
[[ $(status_field ux health) == up ]] || fail "unix link not up after a real dial"
log "Unix backend: not probed by default, learnt from a real dial"

stop_xc
rm -f "$TMP/uaccepts"
write_graph "$(link_json ux "0.0.0.0:$PU" "$TMP/u.sock")"
start_xc --health-interval 300 --health-unix
wait_listen "$PU"
until_ms 5000 is_health ux up >/dev/null || fail "--health-unix: ux not up"
[[ -s $TMP/uaccepts ]] || fail "--health-unix: no probe reached the Unix backend"
log "--health-unix probes Unix backends"
