# The tcp plugin's limits (SPEC §8): over --max-conns the connection is
# closed at once and counted failed; an idle connection is closed after
# --idle-timeout; a link removed from the graph refuses new connections at
# once and closes its open sessions after --drain.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
P=$(freeport)
write_graph "$(link_json lim "127.0.0.1:$P" "127.0.0.1:$BE")"

log "--max-conns 5: 5 held, the 6th closed at once"
start_xc --max-conns 5 --first-byte-timeout 0 # the held sessions stay silent
wait_listen "$P"
fds0=$(ls "/proc/$XC_PID/fd" | wc -l)
coproc HOLD { exec "$PY" -u "$PEERS" hold "127.0.0.1:$P" --conns 5 --seconds 30; }
HOLD_PID=$HOLD_PID
PIDS+=("$HOLD_PID")
read -r -t 10 line <&"${HOLD[0]}" || fail "holder did not report"
[[ $line == "HELD 5" ]] || fail "holder: $line"
for ((i = 0; i < 50; i++)); do
	[[ $(status_field lim active) == 5 ]] && break
	sleep 0.05
done
[[ $(status_field lim active) == 5 ]] || fail "active=$(status_field lim active), want 5"
fds1=$(ls "/proc/$XC_PID/fd" | wc -l)
log "5 idle sessions hold $((fds1 - fds0)) fds"
((fds1 - fds0 <= 11)) || fail "idle sessions hold $((fds1 - fds0)) fds, want 2 each"
for ((i = 0; i < 3; i++)); do
	timeout 10 "$PY" "$PEERS" expect-close "127.0.0.1:$P" --within 8 ||
		fail "connection over the limit not closed at once"
done
[[ $(status_field lim failed) == 3 ]] || fail "failed=$(status_field lim failed), want 3"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null || true
timeout 10 "$PY" "$PEERS" client "127.0.0.1:$P" --conns 5 ||
	fail "no service once under the limit again"
stop_xc

log "--idle-timeout 1: a silent connection is closed after about 1 s"
start_xc --idle-timeout 1 --drain 1
wait_listen "$P"
timeout 10 "$PY" "$PEERS" expect-close "127.0.0.1:$P" --min 0.9 --within 8 ||
	fail "idle connection not closed after 1 s"
log "a busy connection outlives the idle timeout"
spawn ping "$PY" -u "$PEERS" ping "127.0.0.1:$P" --interval 0.1 --seconds 2.5
PING=$SPAWNED
wait "$PING" || true
grep -q '^OPEN' "$TMP/ping.out" || fail "busy connection closed: $(cat "$TMP/ping.out")"

log "--drain 1: removing the link closes open sessions 1 s later"
spawn ping2 "$PY" -u "$PEERS" ping "127.0.0.1:$P" --interval 0.1 --seconds 10
PING=$SPAWNED
for ((i = 0; i < 100; i++)); do
	grep -q CONNECTED "$TMP/ping2.out" && break
	sleep 0.05
done
sleep 0.3
t_rm=$(date +%s.%N)
write_graph
for ((i = 0; i < 40; i++)); do
	"$PY" "$PEERS" refused "127.0.0.1:$P" >/dev/null && break
	sleep 0.05
done
"$PY" "$PEERS" refused "127.0.0.1:$P" >/dev/null || fail "removed link still accepts after 2 s"
wait "$PING" || true
line=$(grep -m1 '^CLOSED ' "$TMP/ping2.out") || fail "session not closed: $(cat "$TMP/ping2.out")"
dt=$("$PY" -c 'import sys; print(round(float(sys.argv[1]) - float(sys.argv[2]), 2))' "${line#CLOSED }" "$t_rm")
log "open session closed ${dt} s after the removal"
"$PY" -c 'import sys; sys.exit(0 if 0.8 <= float(sys.argv[1]) <= 3 else 1)' "$dt" ||
	fail "session closed ${dt} s after removal, want about 1 s (drain)"
grep -q 'reason="link removed, drain period over"' "$TMP/xc.log" || fail "no drain close line"
