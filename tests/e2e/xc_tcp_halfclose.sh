# Issue 3, "Done when" 3: half-close. The client writes a request and shuts
# down its write side; the backend sees EOF, answers (after a pause, with
# 1 MiB), and the client reads the whole answer. TCP and Unix backends.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer sink-tcp sink 127.0.0.1:0 --answer-delay 0.5 --answer-bytes $((1 << 20)) --log
BE=$READY
start_peer sink-unix sink "$TMP/sink.sock" --answer-delay 0.5 --answer-bytes $((1 << 20)) --log
P1=$(freeport)
P2=$(freeport)
write_graph "$(link_json hc-tcp "127.0.0.1:$P1" "127.0.0.1:$BE")" \
	"$(link_json hc-unix "127.0.0.1:$P2" "$TMP/sink.sock")"
start_xc
wait_listen "$P1"
wait_listen "$P2"

for p in "$P1" "$P2"; do
	log "request of 100 KiB, SHUT_WR, answer of 1 MiB after 0.5 s via :$p"
	timeout 20 "$PY" "$PEERS" push "127.0.0.1:$p" --bytes 102400 \
		--answer-bytes $((1 << 20)) || fail "half-close through :$p"
done
log "empty request: EOF alone is passed on"
timeout 20 "$PY" "$PEERS" push "127.0.0.1:$P1" --bytes 0 --answer-bytes $((1 << 20)) ||
	fail "empty request"
[[ $(grep -c '^SINK ' "$TMP/sink-tcp.out") == 2 ]] || fail "TCP sink did not see 2 EOFs"
[[ $(grep -c '^SINK ' "$TMP/sink-unix.out") == 1 ]] || fail "Unix sink did not see EOF"
