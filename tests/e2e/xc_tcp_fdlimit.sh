# Issue 3, "Done when" 8: with RLIMIT_NOFILE exhausted (pv-xconnect under
# prlimit --nofile, a few fds above what it needs at rest), 150 incoming
# connections do not make the proxy spin (its CPU time grows little over
# 2 s), and service resumes once the clients close.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
P=$(freeport)
write_graph "$(link_json fd-link "127.0.0.1:$P" "127.0.0.1:$BE")"
# The limit: what pv-xconnect needs at rest, plus room for a few sessions.
start_xc
wait_listen "$P"
timeout 10 "$PY" "$PEERS" client "127.0.0.1:$P" --conns 1 || fail "no service at start"
base=$(ls "/proc/$XC_PID/fd" | wc -l)
stop_xc
LIMIT=$((base + 24))
XC_WRAP=(prlimit --nofile=$LIMIT:$LIMIT)
# The held clients stay silent: no first-byte deadline frees their fds.
start_xc --first-byte-timeout 0
wait_listen "$P"
timeout 10 "$PY" "$PEERS" client "127.0.0.1:$P" --conns 1 || fail "no service at start"

log "150 clients held open against a $LIMIT-fd limit ($base fds at rest)"
coproc HOLD { exec "$PY" -u "$PEERS" hold "127.0.0.1:$P" --conns 150 --seconds 40; }
HOLD_PID=$HOLD_PID
PIDS+=("$HOLD_PID")
read -r -t 20 line <&"${HOLD[0]}" || fail "holder did not report"
log "holder: $line"
sleep 0.5
t1=$(cpu_ticks "$XC_PID")
sleep 2
t2=$(cpu_ticks "$XC_PID")
hz=$(getconf CLK_TCK)
log "pv-xconnect CPU over 2 s at the fd limit: $((t2 - t1)) ticks (${hz}/s)"
(((t2 - t1) * 100 <= 10 * hz)) || fail "CPU $((t2 - t1)) ticks in 2 s: spinning"
fds=$(ls "/proc/$XC_PID/fd" | wc -l)
log "pv-xconnect holds $fds fds"
((fds >= LIMIT - 1)) || fail "only $fds of $LIMIT fds used: the limit was not reached"
grep -q 'pausing accepts' "$TMP/xc.log" || fail "no EMFILE log line"

log "clients close: service resumes"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null || true
ok=0
for ((i = 0; i < 50; i++)); do
	if timeout 10 "$PY" "$PEERS" client "127.0.0.1:$P" --conns 3 >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
((ok)) || fail "service did not resume after the clients closed"
timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P" --conns 5 --bytes $((1 << 20)) ||
	fail "service degraded after the fd limit"
