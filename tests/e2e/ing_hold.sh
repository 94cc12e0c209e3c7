#!/usr/bin/env bash
# Issue 9, done-when 3 (relay part): a backend killed and restarted 500 ms
# later while 50 clients connect in the gap: all 50 get their full answer
# (held, then served); a graph update during the hold (socket "" -> an
# address) is used by the next try; with the backend gone longer than the
# connect timeout the held clients are closed and counted `failed`; held
# clients show in the status and count against max_conns; a backend
# that resets the connection before answering gets the request again on
# a new dial. http: held too, then 503. (The seed scenario through pv-ctrld: ing_seed_restart.sh.)
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"
ING="$PVX_SRC/tests/e2e/lib/ingpeers.py"

with() { sed "s/}\$/,$1}/"; }
PB=$(freeport)
backend_up() {
	spawn counted "$PY" -u "$ING" counted "127.0.0.1:$PB" "$TMP/accepts"
	BE_PID=$SPAWNED
	wait_ready counted "$BE_PID"
}
backend_down() {
	kill -KILL "$BE_PID"
	wait "$BE_PID" 2>/dev/null || true
}
P=$(freeport)
RESTART=$(link_json restart "0.0.0.0:$P" "127.0.0.1:$PB" | with '"connect_timeout_ms":8000')
PL=$(freeport)
LATE=$(link_json late "0.0.0.0:$PL" "" | with '"connect_timeout_ms":8000')
PG=$(freeport)
GONE=$(link_json gone "0.0.0.0:$PG" "127.0.0.1:$PB" | with '"connect_timeout_ms":600,"max_conns":3')
PH=$(freeport)
HGONE=$(http_link hgone "0.0.0.0:$PH" "127.0.0.1:$PB" | with '"connect_timeout_ms":600')
backend_up
write_graph "$RESTART" "$LATE" "$GONE" "$HGONE"
start_xc --health-interval 0
for p in "$P" "$PL" "$PG" "$PH"; do wait_listen "$p"; done
[[ $("$PY" "$ING" fetch "127.0.0.1:$P") == data:hello ]] || fail "no answer before the restart"

log "kill the backend; 50 clients in the gap; restart 500 ms later"
backend_down
"$PY" -u "$ING" burst "127.0.0.1:$P" 50 --timeout 20 >"$TMP/burst.out" 2>&1 &
BURST=$!
PIDS+=("$BURST")
held_some() { (($(status_field restart held) > 0)); }
until_ms 5000 held_some >/dev/null || fail "no client held while the backend is down"
sleep 0.5
backend_up
wait "$BURST" || true
[[ $(cat "$TMP/burst.out") == "served=50 failed=0" ]] || fail "burst: $(cat "$TMP/burst.out")"
[[ $(status_field restart failed) == 0 ]] || fail "restart: failed=$(status_field restart failed)"
[[ $(status_field restart held) == 0 ]] || fail "restart: held=$(status_field restart held) after the burst"
log "all 50 served after the restart, none failed"

log "socket \"\" while clients wait; the graph gives the address"
"$PY" -u "$ING" burst "127.0.0.1:$PL" 5 --timeout 20 >"$TMP/late.out" 2>&1 &
LB=$!
PIDS+=("$LB")
held5() { (($(status_field late held) == 5)); }
until_ms 5000 held5 >/dev/null || fail "late: held=$(status_field late held), want 5"
LATE2=$(link_json late "0.0.0.0:$PL" "127.0.0.1:$PB" | with '"connect_timeout_ms":8000')
write_graph "$RESTART" "$LATE2" "$GONE" "$HGONE"
wait "$LB" || true
[[ $(cat "$TMP/late.out") == "served=5 failed=0" ]] || fail "late: $(cat "$TMP/late.out")"
log "held clients used the backend of the graph update"

log "backend gone longer than the connect timeout (600 ms)"
backend_down
"$PY" -u "$ING" burst "127.0.0.1:$PG" 3 --timeout 20 >"$TMP/gone.out" 2>&1 &
GB=$!
PIDS+=("$GB")
held3() { (($(status_field gone held) == 3)); }
if until_ms 5000 held3 >/dev/null; then
	# max_conns 3: the three held clients fill the link.
	got=$("$PY" "$ING" fetch "127.0.0.1:$PG")
	[[ $got == eof || $got == reset ]] || fail "a 4th client over max_conns 3 got '$got'"
fi
wait "$GB" || true
[[ $(cat "$TMP/gone.out") == "served=0 failed=3" ]] || fail "gone: $(cat "$TMP/gone.out")"
f=$(status_field gone failed)
((f >= 3)) || fail "gone: failed=$f, want >= 3"
[[ $(status_field gone held) == 0 ]] || fail "gone: still held"
log "closed after the connect timeout, counted failed ($f, with the one over max_conns)"

log "a backend that resets before answering: the request is replayed"
rm -f "$TMP/accepts"
spawn resetter "$PY" -u "$ING" counted "127.0.0.1:$PB" "$TMP/accepts" --reset-first 2
BE_PID=$SPAWNED
wait_ready resetter "$BE_PID"
got=$("$PY" "$ING" fetch "127.0.0.1:$P")
[[ $got == data:hello ]] || fail "after two resets: got '$got'"
[[ $(wc -l <"$TMP/accepts") == 3 ]] || fail "backend saw $(wc -l <"$TMP/accepts") connections, want 3 (two reset, one served)"
log "served on the third dial after two resets"
kill -KILL "$BE_PID"
wait "$BE_PID" 2>/dev/null || true

c=$(code "http://127.0.0.1:$PH/x")
# 503 when the last dial was refused, 504 when one was still in flight at
# the connect timeout (a slow machine): both say "no backend now".
[[ $c == 503 || $c == 504 ]] || fail "http with the backend gone: $c, want 503 or 504"
[[ $(status_field hgone failed) == 1 ]] || fail "http: failed=$(status_field hgone failed)"
log "http: held, then 503"
