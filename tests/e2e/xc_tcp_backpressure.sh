# Issue 3, "Done when" 5: backpressure. A client pushes 512 MiB towards a
# backend that reads nothing for its first 3 s: the proxy stops reading the
# client instead of buffering, its peak RSS (VmHWM) stays under 32 MiB, and
# every byte arrives (count and sha256 checked by the backend's answer).
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer slow-sink sink 127.0.0.1:0 --delay 3 --log
BE=$READY
start_peer slow-sink-unix sink "$TMP/sink.sock" --delay 2 --log
P1=$(freeport)
P2=$(freeport)
write_graph "$(link_json bp-tcp "127.0.0.1:$P1" "127.0.0.1:$BE")" \
	"$(link_json bp-unix "127.0.0.1:$P2" "$TMP/sink.sock")"
start_xc
wait_listen "$P1"
wait_listen "$P2"

log "512 MiB to a TCP backend that sleeps 3 s first"
timeout 55 "$PY" "$PEERS" push "127.0.0.1:$P1" --bytes $((512 << 20)) --timeout 60 ||
	fail "512 MiB did not arrive intact"
log "64 MiB to a Unix backend that sleeps 2 s first"
timeout 30 "$PY" "$PEERS" push "127.0.0.1:$P2" --bytes $((64 << 20)) --timeout 60 ||
	fail "64 MiB did not arrive intact (Unix)"
hwm=$(proc_kb "$XC_PID" VmHWM)
log "pv-xconnect VmHWM ${hwm} kB"
((hwm < 32 * 1024)) || fail "VmHWM ${hwm} kB >= 32 MiB"
in=$(status_field bp-tcp bytes_in)
[[ $in == $((512 << 20)) ]] || fail "bytes_in $in"
