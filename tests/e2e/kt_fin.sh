# Kernel relay (issue 10), "Done when" 1: the FIN is passed on only after
# every byte before it. (1) A client sends a burst of 8 MiB and shuts its
# write side at once; the backend must see all of it, sha256-exact, then
# EOF, and its own 8 MiB answer, sent and shut at once, must reach the
# client whole before the client's EOF. (2) The backend closes first: it
# writes 8 MiB and closes while the client still holds its side open; the
# client reads all 8 MiB then EOF, and the session ends when the client
# closes. Both through the kernel path and, beside it, the splice relay.
source "$(dirname "$0")/lib/kt_lib.sh"

N=$((8 << 20))
start_peer sink sink 127.0.0.1:0 --answer-bytes "$N" --log --greet
SINK=$READY
spawn talker "$PY" -u "$KTPEERS" talker 127.0.0.1:0 --bytes "$N"
wait_ready talker
TALKER=$READY
kt_start_both burst="127.0.0.1:$SINK" first="127.0.0.1:$TALKER"

for mode in on off; do
	kt_use "$mode"
	st=()
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	log "$mode: 5 x (8 MiB burst + FIN, 8 MiB answer + FIN), 5 at once"
	for ((i = 0; i < 5; i++)); do
		timeout 60 "$PY" "$KTPEERS" burst "127.0.0.1:${KT_PORT[burst-$mode]}" --bytes "$N" \
			--answer-bytes "$N" --greet "${st[@]}" >"$TMP/burst-$mode.$i.out" 2>&1 &
		BURST[i]=$!
	done
	for ((i = 0; i < 5; i++)); do
		wait "${BURST[i]}" || fail "$mode: FIN after a burst: $(cat "$TMP/burst-$mode.$i.out")"
	done

	log "$mode: the backend writes 8 MiB and closes first; the client holds 3 s, then closes"
	spawn "listener-$mode" "$PY" -u "$KTPEERS" listener "127.0.0.1:${KT_PORT[first-$mode]}" \
		--bytes "$N" --hold 3 "${st[@]}"
	L=$SPAWNED
	for ((i = 0; i < 400; i++)); do
		grep -q '^END' "$TMP/listener-$mode.out" && break
		kill -0 "$L" 2>/dev/null || break
		sleep 0.05
	done
	line=$(grep '^END' "$TMP/listener-$mode.out") || fail "$mode: listener: $(cat "$TMP/listener-$mode.out")"
	# The backend is gone, the client not yet: the session stays open
	# (half-closed) until the client closes its side.
	a=$(status_field "first-$mode" active)
	if ! grep -q '^CLOSED' "$TMP/listener-$mode.out"; then
		((a == 1)) || fail "$mode: session closed while the client still held its side (active=$a)"
	fi
	wait "$L" || true
	[[ $line == "END $N eof pattern ok" ]] || fail "$mode: backend closed first: $line, want END $N eof pattern ok"
	kt_wait_field "first-$mode" active 0
	kt_wait_field "burst-$mode" active 0
	[[ $(status_field "first-$mode" bytes_out) == $((N + 1)) ]] ||
		fail "$mode: first-$mode bytes_out=$(status_field "first-$mode" bytes_out), want $((N + 1))"
	[[ $(status_field "burst-$mode" bytes_in) == $((5 * N)) ]] ||
		fail "$mode: burst-$mode bytes_in=$(status_field "burst-$mode" bytes_in), want $((5 * N))"
	[[ -z $(kt_sessions "first-$mode") ]] || fail "$mode: sessions left: $(kt_sessions "first-$mode")"
done
kt_wait_lines "$TMP/sink.out" 'SINK [0-9]' 10
kt_use on
k=$(status_field burst-on kernel_bytes_in)
((k > 0)) || fail "burst-on: no byte through the kernel"
k=$(status_field first-on kernel_bytes_out)
((k > 0)) || fail "first-on: no byte through the kernel"
