# Kernel relay (issue 10), "Done when" 2: the kernel path is taken. The
# same request/response traffic (8 connections, round trips of 600 bytes
# against an echo backend) goes through the splice relay and through the
# kernel path of two pv-xconnects side by side. On the kernel path the
# BPF byte counters carry all bytes but the first few messages of each
# connection (thousands of round trips each), and pv-xconnect's CPU time
# (utime + stime, /proc/PID/stat) stays small against the splice relay's
# for the same traffic: a ratio of the two, not a time.
source "$(dirname "$0")/lib/kt_lib.sh"

spawn echo "$PY" -u "$PEERS" echo 127.0.0.1:0
wait_ready echo
BE=$READY
declare -A P=([on]=$(freeport) [off]=$(freeport))
for mode in on off; do
	kt_use "$mode"
	write_graph "$(link_json "rr-$mode" "127.0.0.1:${P[$mode]}" "127.0.0.1:$BE")"
	kt_start "$mode"
	wait_listen "${P[$mode]}"
done

CONNS=8 SIZE=600
# rounds MODE R: R round trips on each connection; sets TICKS to the
# proxy's CPU ticks they cost.
rounds() {
	local mode=$1 r=$2 t0 t1 st=()
	kt_use "$mode"
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	t0=$(cpu_ticks "$XC_PID")
	timeout 120 "$PY" "$KTPEERS" pingpong "127.0.0.1:${P[$mode]}" --conns "$CONNS" \
		--rounds "$r" --size "$SIZE" "${st[@]}" >"$TMP/pp-$mode.out" 2>&1 ||
		fail "$mode: $(cat "$TMP/pp-$mode.out")"
	kt_wait_field "rr-$mode" active 0
	t1=$(cpu_ticks "$XC_PID")
	TICKS=$((t1 - t0))
}

# As many rounds as make the splice relay spend at least 50 ticks
# (0.5 s at 100 Hz): enough for a ratio, whatever the machine's speed.
hz=$(getconf CLK_TCK)
R=500
for ((k = 0; k < 6; k++)); do
	rounds off "$R"
	log "splice relay: $((CONNS * R)) round trips, $TICKS ticks"
	((TICKS * 100 >= 50 * hz)) && break
	R=$((R * 2))
done
((TICKS * 100 >= 20 * hz)) || fail "the splice relay spent only $TICKS ticks on $((CONNS * R)) round trips"
OFF=$TICKS

kt_use on
in0=$(status_field rr-on bytes_in)
kin0=$(status_field rr-on kernel_bytes_in)
rounds on "$R"
ON=$TICKS
in=$(($(status_field rr-on bytes_in) - in0))
out=$(status_field rr-on bytes_out)
kin=$(($(status_field rr-on kernel_bytes_in) - kin0))
kout=$(status_field rr-on kernel_bytes_out)
log "kernel path: $((CONNS * R)) round trips, $ON ticks (splice relay: $OFF)"
log "kernel path: bytes_in=$in kernel_bytes_in=$kin bytes_out=$out kernel_bytes_out=$kout"
want=$((CONNS * R * SIZE))
((in == want)) || fail "bytes_in=$in, want $want"
# User space relayed the first messages of each connection (the round
# trip that proves the backend connect, those that found a receive queue
# not empty when the session could go on the kernel path, and what
# arrives while it is handed over), a few per connection whatever the
# number of rounds (under load up to 4 on average was seen); the kernel
# every other byte.
((in - kin <= CONNS * 16 * SIZE && out - kout <= CONNS * 16 * SIZE)) ||
	fail "kernel bytes in=$kin out=$kout of $want: user space relayed $((in - kin)) in, $((out - kout)) out"
log "user space relayed $((in - kin)) bytes in, $((out - kout)) out, of $want each way"
((ON * 5 <= OFF)) || fail "pv-xconnect spent $ON ticks on the kernel path against $OFF in the splice relay (want <= 1/5)"
log "CPU ratio kernel/splice: $ON/$OFF"
