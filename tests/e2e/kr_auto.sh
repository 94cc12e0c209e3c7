# Issue 10, "Done when" 3: --kernel-relay=auto takes only
# request/response sessions (docs/performance.md): request/answer rounds
# go on the kernel path, a bulk stream (16 MiB, the backend silent until
# EOF) and an echoed stream stay on the splice relay.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"
source "$(dirname "$0")/lib/kr_lib.sh"

start_peer echo echo 127.0.0.1:0
ECHO=$READY
start_peer sink sink 127.0.0.1:0 --answer-bytes 100
SINK=$READY
P1=$(freeport)
P2=$(freeport)
P3=$(freeport)
write_graph "$(link_json ar "127.0.0.1:$P1" "127.0.0.1:$ECHO")" \
	"$(link_json ab "127.0.0.1:$P2" "127.0.0.1:$SINK")" \
	"$(link_json as "127.0.0.1:$P3" "127.0.0.1:$ECHO")"
# auto is the default (docs/xconnect.md, "Kernel relay").
start_xc
for p in $P1 $P2 $P3; do wait_listen "$p"; done
[[ $(sessions_py 's["kernel_relay"]["mode"]') == auto ]] || fail "the default is not auto"
kr_require

timeout 30 "$PY" "$KP" rr "127.0.0.1:$P1" --rounds 300 || fail "rounds"
timeout 30 "$PY" "$PEERS" push "127.0.0.1:$P2" --bytes $((16 << 20)) --answer-bytes 100 || fail "bulk"
timeout 60 "$PY" "$KP" stream "127.0.0.1:$P3" --bytes $((16 << 20)) || fail "echoed stream"
for l in ar ab as; do wait_idle $l; done
kin=$(status_field ar kernel_bytes_in)
# All but the first rounds (before the backend's first byte, those that
# found a receive queue not empty when the session could go on, and one
# that may race the hand-back).
((kin >= 270 * 600)) || fail "request/response: kernel_bytes_in $kin"
[[ $(status_field ab kernel_bytes_in) == 0 ]] || fail "bulk went on the kernel path"
[[ $(status_field as kernel_bytes_in) == 0 ]] || fail "echoed stream went on the kernel path"
grep -q 'link=ar .*mode=kernel reason="done"' "$TMP/xc.log" || fail "rounds: no mode=kernel"
grep -q 'link=ab .*mode=splice reason="done"' "$TMP/xc.log" || fail "bulk: not spliced"
