# Kernel relay (issue 10), "Done when" 1: 64 MiB of random bytes round-trip
# sha256-exact, both ways at once, through a session on the kernel path
# while both ends pause (the echo backend stops reading for 0.4 s after
# every 16 MiB, the client stops writing and reading as often): each pause
# pushes the session over its in-flight budget, so its bytes go through
# user space and back to the kernel, and the counters show both paths
# carried bytes of the same session. Then 16 MiB one way and 16 MiB back
# after the FIN (peers.py's sink). The same traffic through the splice
# relay (--kernel-relay=off) beside it gives the same bytes.
source "$(dirname "$0")/lib/kt_lib.sh"

SIZE=$((64 << 20)) SINK_SIZE=$((16 << 20))
PAUSE=(--pause-every $((16 << 20)) --pause 0.4)
spawn echo "$PY" -u "$KTPEERS" echo 127.0.0.1:0 "${PAUSE[@]}"
wait_ready echo
BE=$READY
start_peer sink sink 127.0.0.1:0 --answer-bytes "$SINK_SIZE" --log --greet
SINK=$READY
kt_start_both bulk="127.0.0.1:$BE" sink="127.0.0.1:$SINK"

for mode in on off; do
	kt_use "$mode"
	st=()
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	log "$mode: 64 MiB echoed with pauses"
	timeout 120 "$PY" "$KTPEERS" bulk "127.0.0.1:${KT_PORT[bulk-$mode]}" --bytes "$SIZE" \
		"${PAUSE[@]}" "${st[@]}" || fail "$mode: 64 MiB echo with pauses"
	log "$mode: 16 MiB to the sink, FIN, 16 MiB back"
	timeout 120 "$PY" "$KTPEERS" burst "127.0.0.1:${KT_PORT[sink-$mode]}" --bytes "$SINK_SIZE" \
		--answer-bytes "$SINK_SIZE" --greet "${st[@]}" || fail "$mode: 16 MiB each way around a FIN"
	kt_wait_field "bulk-$mode" active 0
	kt_wait_field "sink-$mode" active 0
	for l in "bulk-$mode" "sink-$mode"; do
		in=$(status_field "$l" bytes_in)
		out=$(status_field "$l" bytes_out)
		kin=$(status_field "$l" kernel_bytes_in)
		kout=$(status_field "$l" kernel_bytes_out)
		log "$l: bytes_in=$in bytes_out=$out kernel_bytes_in=$kin kernel_bytes_out=$kout"
		[[ $l == bulk-* ]] && want=$((SIZE + 4)) || want=$SINK_SIZE
		((in == want)) || fail "$l bytes_in=$in, want $want"
		[[ $l == bulk-* ]] && want=$((SIZE + 4)) || want=$((1 + SINK_SIZE + ${#SINK_SIZE} + 66))
		((out == want)) || fail "$l bytes_out=$out, want $want"
		if [[ $mode == off ]]; then
			((kin == 0 && kout == 0)) || fail "$l: kernel bytes with the kernel relay off"
		fi
	done
done

kt_use on
kin=$(status_field bulk-on kernel_bytes_in)
kout=$(status_field bulk-on kernel_bytes_out)
in=$(status_field bulk-on bytes_in)
out=$(status_field bulk-on bytes_out)
# Both paths carried bytes of the session, each way: the kernel's before
# and between the pauses, user space's over the budget.
((kin > 0 && kout > 0)) || fail "the kernel path carried nothing: in=$kin out=$kout"
((kin < in && kout < out)) ||
	fail "no budget crossing: every byte went through the kernel (in $kin/$in, out $kout/$out)"
log "kernel path: $((kin * 100 / in))% in, $((kout * 100 / out))% out; the rest in user space"
kin=$(status_field sink-on kernel_bytes_in)
((kin > 0)) || fail "sink-on: no byte through the kernel"
kt_wait_lines "$TMP/sink.out" 'SINK [0-9]' 2
