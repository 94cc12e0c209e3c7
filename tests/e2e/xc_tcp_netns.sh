# Issue 3, "Done when" 7: with the consumer_pid of a process in its own
# network namespace, the listener is bound inside that namespace: reachable
# via nsenter --net=/proc/<pid>/ns/net, refused from the test's namespace;
# the backend is still dialled from pv-xconnect's own namespace. A new
# consumer_pid moves the listener into the new process's namespace.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
spawn holder unshare --net sleep 60
HOLDER=$SPAWNED
for ((i = 0; i < 100; i++)); do
	[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
	sleep 0.02
done
[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] ||
	fail "holder $HOLDER never got its own netns"
IN_HOLDER=(nsenter --net="/proc/$HOLDER/ns/net")
"${IN_HOLDER[@]}" ip link set lo up
spawn holder2 unshare --net sleep 60
HOLDER2=$SPAWNED
for ((i = 0; i < 100; i++)); do
	[[ $(readlink "/proc/$HOLDER2/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
	sleep 0.02
done
IN_HOLDER2=(nsenter --net="/proc/$HOLDER2/ns/net")
"${IN_HOLDER2[@]}" ip link set lo up

P=$(freeport)
write_graph "$(link_json ns-link "127.0.0.1:$P" "127.0.0.1:$BE" "$HOLDER")"
start_xc
wait_listen "$P" "${IN_HOLDER[@]}"
[[ -z $(ss -Hltn "sport = :$P") ]] || fail "listener :$P also in the test's netns"
log "listener :$P is in $(readlink "/proc/$HOLDER/ns/net") only"

log "from inside the consumer's netns: works"
timeout 30 "${IN_HOLDER[@]}" "$PY" "$PEERS" client "127.0.0.1:$P" --conns 10 ||
	fail "not reachable from the consumer's netns"
log "from the test's netns: refused"
"$PY" "$PEERS" refused "127.0.0.1:$P" || fail "reachable from the test's netns"
[[ $(readlink "/proc/$XC_PID/ns/net") == "$(readlink /proc/self/ns/net)" ]] ||
	fail "pv-xconnect did not come back to its own netns"

log "consumer_pid $HOLDER -> $HOLDER2: the listener moves"
write_graph "$(link_json ns-link "127.0.0.1:$P" "127.0.0.1:$BE" "$HOLDER2")"
wait_listen "$P" "${IN_HOLDER2[@]}"
for ((i = 0; i < 40; i++)); do
	[[ -z $("${IN_HOLDER[@]}" ss -Hltn "sport = :$P") ]] && break
	sleep 0.05
done
[[ -z $("${IN_HOLDER[@]}" ss -Hltn "sport = :$P") ]] || fail "old listener left in $HOLDER's netns"
timeout 30 "${IN_HOLDER2[@]}" "$PY" "$PEERS" client "127.0.0.1:$P" --conns 3 ||
	fail "not reachable from the new consumer's netns"
"${IN_HOLDER[@]}" "$PY" "$PEERS" refused "127.0.0.1:$P" || fail "still reachable from the old consumer's netns"
[[ $(readlink "/proc/$XC_PID/ns/net") == "$(readlink /proc/self/ns/net)" ]] ||
	fail "pv-xconnect did not come back to its own netns"
