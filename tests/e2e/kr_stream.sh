# Issue 10, "Done when" 1: byte streams on the kernel path. 64 MiB echoed
# both ways with pauses, crossing the in-flight budget many times (bytes
# moved by the program and by user space alike, sha256-exact); a burst
# then FIN from the client (the backend counts every byte before its EOF);
# a backend that sends a burst and closes first, with FIN and with RST; a
# client that resets; clients that close before the session could go on
# the kernel path. pv-xconnect serves on after all of them.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"
source "$(dirname "$0")/lib/kr_lib.sh"

start_peer echo echo 127.0.0.1:0
ECHO=$READY
start_peer sink sink 127.0.0.1:0 --log --answer-bytes 1000
SINK=$READY
spawn burst "$PY" -u "$KP" burst-server 127.0.0.1:0 --bytes $((8 << 20))
wait_ready burst
BURST=$READY
spawn burst-rst "$PY" -u "$KP" burst-server 127.0.0.1:0 --bytes $((8 << 20)) --rst
wait_ready burst-rst
BURST_RST=$READY
P1=$(freeport)
P2=$(freeport)
P3=$(freeport)
P4=$(freeport)
write_graph "$(link_json ke "127.0.0.1:$P1" "127.0.0.1:$ECHO")" \
	"$(link_json ks "127.0.0.1:$P2" "127.0.0.1:$SINK")" \
	"$(link_json kb "127.0.0.1:$P3" "127.0.0.1:$BURST")" \
	"$(link_json kr "127.0.0.1:$P4" "127.0.0.1:$BURST_RST")"
start_xc --kernel-relay=on
for p in $P1 $P2 $P3 $P4; do wait_listen "$p"; done
kr_require

log "64 MiB echoed both ways, pauses every 4 MiB, 1 MiB budget"
timeout 90 "$PY" "$KP" stream "127.0.0.1:$P1" --bytes $((64 << 20)) --pause 0.05 ||
	fail "64 MiB round trip"
wait_idle ke
in=$(status_field ke bytes_in)
kin=$(status_field ke kernel_bytes_in)
kout=$(status_field ke kernel_bytes_out)
log "bytes_in $in, by the kernel: in $kin out $kout"
[[ $in == $((64 << 20)) ]] || fail "bytes_in $in"
# Both paths carried bytes: the program moved many MiB, and each
# direction crossed its budget (user space moved some of it).
((kin + kout > (8 << 20))) || fail "the kernel path moved only $kin + $kout bytes"
((kin < in && kout < in)) || fail "no budget crossing: all bytes moved by the kernel"

log "the same, the reader pausing (the echo's sender pushed back)"
timeout 90 "$PY" "$KP" stream "127.0.0.1:$P1" --bytes $((32 << 20)) --read-pause 0.2 ||
	fail "round trip with a pausing reader"

log "a burst of 16 MiB then FIN: the backend counts it all before its EOF"
for size in $((16 << 20)) 1 $((1 << 20))7; do
	timeout 30 "$PY" "$PEERS" push "127.0.0.1:$P2" --bytes "$size" --answer-bytes 1000 ||
		fail "burst of $size then FIN"
done

log "the backend sends 8 MiB and closes first (FIN)"
for i in 1 2 3; do
	timeout 30 "$PY" "$KP" burst-client "127.0.0.1:$P3" --bytes $((8 << 20)) ||
		fail "backend closing first"
done
log "the backend sends 8 MiB and resets"
timeout 30 "$PY" "$KP" burst-client "127.0.0.1:$P4" --bytes $((8 << 20)) --reset ||
	fail "backend reset"
log "a client resets on the kernel path"
for i in 1 2 3; do
	timeout 30 "$PY" "$KP" rst-client "127.0.0.1:$P1" --rounds 3 --bytes $((1 << 20)) ||
		fail "client reset"
done
log "clients that close before the insert"
timeout 30 "$PY" "$KP" close-early "127.0.0.1:$P1" --conns 50 || fail "close early"
timeout 30 "$PY" "$KP" close-early "127.0.0.1:$P2" --conns 50 || fail "close early (sink)"

for l in ke ks kb kr; do wait_idle $l; done
for l in ke ks kb kr; do
	[[ $(status_field $l kernel_sessions) == 0 ]] || fail "$l: kernel_sessions left"
done
grep -q 'mode=kernel reason="read client: Connection reset by peer"' "$TMP/xc.log" ||
	fail "no client reset on the kernel path"
grep -q 'link=kb .*mode=kernel reason="done"' "$TMP/xc.log" || fail "no backend-first close on the kernel path"
log "still serving"
timeout 20 "$PY" "$KP" rr "127.0.0.1:$P1" --rounds 100 || fail "rounds after all"
kill -0 "$XC_PID" || fail "pv-xconnect died"
