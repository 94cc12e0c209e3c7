# Issue 3, "Done when" 1: 1 MiB of random bytes round-trips byte-exact
# through the tcp ingress to a TCP backend and to a Unix backend, both
# directions, on 100 concurrent connections (and to an IPv6 backend). Also:
# [::]:P and 0.0.0.0:P listen side by side (IPV6_V6ONLY).
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo-tcp echo 127.0.0.1:0
TCP_BE=$READY
start_peer echo-unix echo "$TMP/echo.sock"
start_peer echo-v6 echo "[::1]:0"
V6_BE=$READY
P1=$(freeport)
P2=$(freeport)
P3=$(freeport --v6)
P4=$(freeport)
write_graph "$(link_json rt-tcp "127.0.0.1:$P1" "127.0.0.1:$TCP_BE")" \
	"$(link_json rt-unix "127.0.0.1:$P2" "$TMP/echo.sock")" \
	"$(link_json rt-v6 "[::1]:$P3" "[::1]:$V6_BE")" \
	"$(link_json rt-any4 "0.0.0.0:$P4" "127.0.0.1:$TCP_BE")" \
	"$(link_json rt-any6 "[::]:$P4" "$TMP/echo.sock")"
start_xc
wait_listen "$P1"
wait_listen "$P2"
wait_listen "$P3"
for ((i = 0; i < 100; i++)); do
	[[ $(ss -Hltn "sport = :$P4" | wc -l) == 2 ]] && break
	sleep 0.05
done
[[ $(ss -Hltn "sport = :$P4" | wc -l) == 2 ]] ||
	fail "0.0.0.0:$P4 and [::]:$P4 do not both listen: $(ss -Hltn "sport = :$P4")"
timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P4" --conns 2 || fail "0.0.0.0:$P4"
timeout 20 "$PY" "$PEERS" client "[::1]:$P4" --conns 2 || fail "[::]:$P4"

for t in "127.0.0.1:$P1 TCP" "127.0.0.1:$P2 Unix" "[::1]:$P3 IPv6"; do
	set -- $t
	log "100 x 1 MiB through $1 to the $2 backend"
	timeout 50 "$PY" "$PEERS" client "$1" --bytes $((1 << 20)) --conns 100 ||
		fail "round trip through the $2 backend"
done
[[ $(status_field rt-tcp accepted) -ge 100 ]] || fail "accepted counter: $(status_field rt-tcp accepted)"
in=$(status_field rt-tcp bytes_in)
out=$(status_field rt-tcp bytes_out)
[[ $in == $((100 << 20)) && $out == $((100 << 20)) ]] ||
	fail "byte counters in=$in out=$out, want $((100 << 20)) each"
log "counters: accepted=$(status_field rt-tcp accepted) in=$in out=$out"
