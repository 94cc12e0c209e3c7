# Issue 10, "Done when" 2: the kernel path is taken. 10000 request/answer
# rounds on one connection with --kernel-relay=on: the BPF program's byte
# counters carry (nearly) all of them, GET /sessions shows the session as
# "kernel", its sockets have forced buffer sizes, /metrics has the
# counters, and pv-xconnect's CPU time is a
# fraction of the same run with the relay off (a ratio, not a time).
source "$(dirname "$0")/lib/xc_tcp_lib.sh"
source "$(dirname "$0")/lib/kr_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
P=$(freeport)
write_graph "$(link_json kp "127.0.0.1:$P" "127.0.0.1:$BE")"
ROUNDS=10000

# rounds MODE: runs the rounds, sets TICKS to pv-xconnect's CPU ticks.
rounds() {
	start_xc "--kernel-relay=$1"
	wait_listen "$P"
	[[ $1 == off ]] || kr_require
	local t0
	t0=$(cpu_ticks "$XC_PID")
	timeout 60 "$PY" "$KP" rr "127.0.0.1:$P" --rounds $ROUNDS --size 600 ||
		fail "$1: rounds"
	wait_idle kp
	TICKS=$(($(cpu_ticks "$XC_PID") - t0))
	IN=$(status_field kp bytes_in)
	KIN=$(status_field kp kernel_bytes_in)
	KOUT=$(status_field kp kernel_bytes_out)
	[[ $IN == $((ROUNDS * 600)) ]] || fail "$1: bytes_in $IN"
	[[ $(status_field kp bytes_out) == $((ROUNDS * 600)) ]] || fail "$1: bytes_out"
}

rounds off
OFF=$TICKS
[[ $KIN == 0 && $KOUT == 0 ]] || fail "off: kernel bytes $KIN/$KOUT"
stop_xc
rounds on
ON=$TICKS
log "CPU ticks: off $OFF, on $ON; kernel bytes in $KIN out $KOUT of $IN"
# All but the first round (before the backend's first byte, see
# docs/ARCHITECTURE.md) and those around a budget crossing.
((KIN * 100 >= IN * 95 && KOUT * 100 >= IN * 95)) || fail "kernel path not taken"
((OFF >= 10)) || fail "the off run cost only $OFF ticks: too few rounds to compare"
((ON * 4 <= OFF)) || fail "CPU with the kernel relay ($ON) not below a quarter of off ($OFF)"

log "a live session is listed as kernel; /metrics has its counters"
timeout 30 "$PY" "$KP" rr "127.0.0.1:$P" --rounds 300 --pause 0.1 --pause-every 1 >/dev/null 2>&1 &
RR=$!
PIDS+=("$RR")
mode=""
for ((i = 0; i < 100; i++)); do
	mode=$(sessions_py '",".join(x["mode"] for x in s["sessions"])')
	[[ $mode == kernel ]] && break
	sleep 0.05
done
[[ $mode == kernel ]] || fail "/sessions: mode '$mode', want kernel"
[[ $(status_field kp kernel_sessions) == 1 ]] || fail "kernel_sessions is not 1"
# Fixed buffer sizes on the relayed sockets (they stop auto-tuning): the
# budget, doubled by the kernel, on the accepted end.
ss -tmnH "sport = :$P" | grep -q 'rb2097152,.*tb2097152' ||
	fail "relayed socket without forced buffer sizes: $(ss -tmnH "sport = :$P")"
metrics=$(curl -sS --unix-socket "$TMP/status.sock" http://x/metrics)
grep -q '^pvx_link_kernel_sessions{.*name="kp".*} 1$' <<<"$metrics" || fail "metrics: kernel_sessions"
grep -q '^pvx_link_kernel_bytes_in_total{.*name="kp".*} [1-9]' <<<"$metrics" || fail "metrics: kernel bytes"
grep -q '^pvx_kernel_relay_active{mode="on"} 1$' <<<"$metrics" || fail "metrics: active"
kill "$RR"
wait "$RR" 2>/dev/null || true
wait_idle kp
[[ $(status_field kp kernel_sessions) == 0 ]] || fail "kernel_sessions after close"
grep -q 'session closed link=kp .* mode=kernel reason="done"' "$TMP/xc.log" || fail "no close line with mode=kernel"
