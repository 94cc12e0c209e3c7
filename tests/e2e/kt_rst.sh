# Kernel relay (issue 10), "Done when" 1: a reset from either side of a
# session on the kernel path. (1) The client pushes 4 MiB and resets:
# the backend sees its connection end, the session is closed with a
# reason and leaves nothing behind (no session, no fd). (2) The backend
# writes 4 MiB and resets: the client sees the end, the session is closed.
# (3) The backend resets while the client is in the middle of a 64 MiB
# push: the client's push fails instead of hanging. (4) 50 clients close
# right after a request, its answer in flight (it meets a closed socket:
# a reset): every session ends, none stays on the kernel path, and
# pv-xconnect does not spin afterwards. The splice relay beside it is
# held to the same outcome.
source "$(dirname "$0")/lib/kt_lib.sh"

N=$((4 << 20))
spawn watch "$PY" -u "$KTPEERS" watch 127.0.0.1:0 --greet
wait_ready watch
WATCH=$READY
spawn rtalker "$PY" -u "$KTPEERS" talker 127.0.0.1:0 --bytes "$N" --rst
wait_ready rtalker
RTALKER=$READY
spawn echo "$PY" -u "$PEERS" echo 127.0.0.1:0
wait_ready echo
ECHO=$READY
kt_start_both crst="127.0.0.1:$WATCH" brst="127.0.0.1:$RTALKER" gone="127.0.0.1:$ECHO"

for mode in on off; do
	kt_use "$mode"
	st=()
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	fds0=$(kt_fds "$XC_PID")

	log "$mode: the client pushes 4 MiB and resets"
	ends0=$(grep -c '^END' "$TMP/watch.out" || true)
	timeout 30 "$PY" "$KTPEERS" rst "127.0.0.1:${KT_PORT[crst-$mode]}" --bytes "$N" "${st[@]}" ||
		fail "$mode: client reset"
	for ((i = 0; i < 200; i++)); do
		(($(grep -c '^END' "$TMP/watch.out" || true) > ends0)) && break
		sleep 0.05
	done
	end=$(grep '^END' "$TMP/watch.out" | tail -n 1)
	(($(grep -c '^END' "$TMP/watch.out" || true) > ends0)) ||
		fail "$mode: the backend never saw the client's reset pass"
	log "$mode: backend saw: $end"
	kt_wait_field "crst-$mode" active 0
	grep -q "closed.*link=crst-$mode.*reason=" "$XC_LOG" || fail "$mode: no close line with a reason"

	log "$mode: the backend writes 4 MiB and resets"
	timeout 30 "$PY" "$KTPEERS" listener "127.0.0.1:${KT_PORT[brst-$mode]}" --bytes "$N" "${st[@]}" \
		>"$TMP/brst-$mode.out" 2>&1 || fail "$mode: backend reset: $(cat "$TMP/brst-$mode.out")"
	line=$(grep '^END' "$TMP/brst-$mode.out") || fail "$mode: $(cat "$TMP/brst-$mode.out")"
	log "$mode: client saw: $line"
	# What came before the reset is a correct beginning of what was sent.
	[[ $line =~ ^END\ [0-9]+\ (eof|reset)\ pattern\ (ok|prefix)$ ]] || fail "$mode: $line"
	kt_wait_field "brst-$mode" active 0

	log "$mode: the backend resets in the middle of a 64 MiB push"
	spawn "mid-$mode" "$PY" -u "$KTPEERS" watch 127.0.0.1:0 --greet --rst-after $((8 << 20))
	wait_ready "mid-$mode"
	MID=$READY
	P3=$(freeport)
	write_graph "$(link_json "crst-$mode" "127.0.0.1:${KT_PORT[crst-$mode]}" "127.0.0.1:$WATCH")" \
		"$(link_json "brst-$mode" "127.0.0.1:${KT_PORT[brst-$mode]}" "127.0.0.1:$RTALKER")" \
		"$(link_json "gone-$mode" "127.0.0.1:${KT_PORT[gone-$mode]}" "127.0.0.1:$ECHO")" \
		"$(link_json "mid-$mode" "127.0.0.1:$P3" "127.0.0.1:$MID")"
	wait_listen "$P3"
	rc=0
	timeout 60 "$PY" "$KTPEERS" burst "127.0.0.1:$P3" --bytes $((64 << 20)) --greet "${st[@]}" \
		>"$TMP/mid-$mode.client" 2>&1 || rc=$?
	((rc != 124)) || fail "$mode: the client hung after the backend's reset"
	((rc != 0)) || fail "$mode: a 64 MiB push to a backend that reset succeeded"
	log "$mode: client: $(tail -n 1 "$TMP/mid-$mode.client"); backend: $(cat "$TMP/mid-$mode.out")"
	grep -q '^RST after' "$TMP/mid-$mode.out" || fail "$mode: the backend did not reset"
	kt_wait_field "mid-$mode" active 0

	log "$mode: 50 clients close with an answer in flight"
	timeout 60 "$PY" "$KTPEERS" abandon "127.0.0.1:${KT_PORT[gone-$mode]}" --conns 50 --rounds 20 "${st[@]}" ||
		fail "$mode: abandon"
	kt_wait_field "gone-$mode" active 0 20
	[[ $(status_field "gone-$mode" kernel_sessions) == 0 ]] ||
		fail "$mode: kernel_sessions=$(status_field "gone-$mode" kernel_sessions) after the clients left"
	# Nothing moves now: pv-xconnect must not spin (under 5% of a core).
	t1=$(cpu_ticks "$XC_PID")
	sleep 2
	t2=$(cpu_ticks "$XC_PID")
	(((t2 - t1) * 100 <= 10 * $(getconf CLK_TCK))) ||
		fail "$mode: pv-xconnect used $((t2 - t1)) ticks in 2 s with no session open"

	# Nothing left: no session, the sockets of before (and the new listener).
	[[ -z $(kt_sessions "crst-$mode")$(kt_sessions "brst-$mode")$(kt_sessions "mid-$mode") ]] ||
		fail "$mode: sessions left"
	for ((i = 0; i < 100; i++)); do
		(($(kt_fds "$XC_PID") <= fds0 + 1)) && break
		sleep 0.05
	done
	(($(kt_fds "$XC_PID") <= fds0 + 1)) || fail "$mode: $(kt_fds "$XC_PID") sockets, $fds0 before the resets"
	[[ $(status_field "crst-$mode" kernel_sessions) == 0 ]] ||
		fail "$mode: kernel_sessions=$(status_field "crst-$mode" kernel_sessions) after the close"
done
kt_use on
k=$(status_field brst-on kernel_bytes_out)
((k > 0)) || fail "brst-on: no byte through the kernel"
