# Issue 3, "Done when" 4: backend down. A refused backend and a backend that
# never answers the SYN (connect timeout, here 1 s): the client is closed
# at the timeout (a refused one is held and retried until then, issue 9),
# the proxy keeps serving, and once the backend comes up the next
# connection works. Also a link whose socket is "" (no backend yet) holds
# its clients as long and then closes them.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

DOWN=$(freeport)
start_peer blackhole blackhole 127.0.0.1:0
BH=$READY
P1=$(freeport)
P2=$(freeport)
P3=$(freeport)
write_graph "$(link_json bd-refused "127.0.0.1:$P1" "127.0.0.1:$DOWN")" \
	"$(link_json bd-silent "127.0.0.1:$P2" "127.0.0.1:$BH")" \
	"$(link_json bd-none "127.0.0.1:$P3" "")"
start_xc --connect-timeout 1000
wait_listen "$P1"
wait_listen "$P2"
wait_listen "$P3"

log "refused backend: 5 clients held, closed at the 1 s timeout"
for ((i = 0; i < 5; i++)); do
	timeout 30 "$PY" "$PEERS" expect-close "127.0.0.1:$P1" --min 0.5 --within 8 >"$TMP/refused.$i" 2>&1 &
	REFUSED[$i]=$!
done
for ((i = 0; i < 5; i++)); do
	wait "${REFUSED[$i]}" || fail "refused backend: $(cat "$TMP/refused.$i")"
done
log "silent backend: 5 clients at once closed within the 1 s timeout"
for ((i = 0; i < 5; i++)); do
	timeout 10 "$PY" "$PEERS" expect-close "127.0.0.1:$P2" --min 0.8 --within 8 >"$TMP/silent.$i" 2>&1 &
	SILENT[$i]=$!
done
for ((i = 0; i < 5; i++)); do
	wait "${SILENT[$i]}" || fail "silent backend: $(cat "$TMP/silent.$i")"
done
log "no backend yet: held, closed at the timeout"
timeout 30 "$PY" "$PEERS" expect-close "127.0.0.1:$P3" --min 0.5 --within 8 || fail "socket \"\" link"

log "the backend comes up: the next connection works"
start_peer echo echo "127.0.0.1:$DOWN"
timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P1" --bytes 100000 --conns 5 ||
	fail "backend up, but no service"
f1=$(status_field bd-refused failed)
f2=$(status_field bd-silent failed)
f3=$(status_field bd-none failed)
((f1 == 5 && f2 == 5 && f3 == 1)) || fail "failed counters $f1 $f2 $f3, want 5 5 1"
a=$(status_field bd-refused active)
((a == 0)) || fail "active=$a after all clients left"
grep -q 'backend connect failed link=bd-refused' "$TMP/xc.log" || fail "no log line for the failures"
# Rate-limited: at most one line per second of failures (plus the first),
# however long the test took on a loaded machine.
n=$(grep -c 'backend connect failed' "$TMP/xc.log")
span=$(grep 'backend connect failed' "$TMP/xc.log" | "$PY" -c '
import sys
t = [sum(float(x) * m for x, m in zip(l.split()[0].split(":"), (3600, 60, 1))) for l in sys.stdin]
print(int(t[-1] - t[0]))')
((n <= span + 2)) || fail "$n failure lines in ${span} s: not rate-limited"
log "failure log lines: $n for 11 failures"
