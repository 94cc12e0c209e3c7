#!/usr/bin/env bash
# http plugin with consumer_pid: the listener is bound inside that
# process's network namespace (a separate listener from one on the same
# address in pv-xconnect's own namespace), and a new consumer_pid moves the
# route to a listener in the new namespace; backends are dialled from
# pv-xconnect's namespace.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
http_backend b B
B=$READY
# holder NAME: a process in a network namespace of its own; sets HOLDER.
holder() {
	local i
	spawn "$1" unshare --net sleep 60
	HOLDER=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
		sleep 0.02
	done
	[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] ||
		fail "holder $HOLDER never got its own netns"
	nsenter --net="/proc/$HOLDER/ns/net" ip link set lo up
}
holder h1
H1=$HOLDER
holder h2
H2=$HOLDER
IN1=(nsenter --net="/proc/$H1/ns/net")
IN2=(nsenter --net="/proc/$H2/ns/net")

P=$(freeport)
write_graph "$(http_link inner "127.0.0.1:$P/x" "127.0.0.1:$A" EXTERNAL "$H1")" \
	"$(http_link outer "127.0.0.1:$P/x" "127.0.0.1:$B")"
start_xc
wait_listen "$P"
wait_listen "$P" "${IN1[@]}"

log "same address and prefix, two namespaces, two backends"
out=$("${IN1[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/x/1") || fail "inside $H1"
[[ $(jget "$out" tag) == A && $(jget "$out" path) == /1 ]] || fail "inside $H1: $out"
out=$(curl -sS --max-time 10 "http://127.0.0.1:$P/x/2") || fail "in the test's netns"
[[ $(jget "$out" tag) == B ]] || fail "in the test's netns: $out"

log "consumer_pid $H1 -> $H2: the route moves"
write_graph "$(http_link inner "127.0.0.1:$P/x" "127.0.0.1:$A" EXTERNAL "$H2")" \
	"$(http_link outer "127.0.0.1:$P/x" "127.0.0.1:$B")"
wait_listen "$P" "${IN2[@]}"
until_ms 2000 bash -c "[[ -z \$(${IN1[*]} ss -Hltn 'sport = :$P') ]]" ||
	fail "old listener left in $H1's netns"
out=$("${IN2[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/x/3") || fail "inside $H2"
[[ $(jget "$out" tag) == A && $(jget "$out" path) == /3 ]] || fail "inside $H2: $out"
[[ $(readlink "/proc/$XC_PID/ns/net") == "$(readlink /proc/self/ns/net)" ]] ||
	fail "pv-xconnect did not come back to its own netns"
