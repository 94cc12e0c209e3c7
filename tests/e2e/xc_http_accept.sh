#!/usr/bin/env bash
# Issue 8, "Done when" 3: the http plugin sits on the accept layer the tcp
# and unix plugins share (docs/xconnect.md, "Accepting"). Over --max-conns
# a connection is closed at once and counted in refused_max_conns (status
# socket and pvcontrol links ls); out of fds, a pending client is closed
# with the reserve fd (counted failed) instead of waiting in the backlog,
# and service resumes; a new consumer_pid in the same network namespace
# keeps the listener (namespaces compared by identity, not by pid), one in
# another namespace moves the route there.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
P=$(freeport)
CLI=("$PVX_BIN/pvcontrol" --status "$TMP/status.sock")
write_graph "$(http_link web "127.0.0.1:$P/" "127.0.0.1:$A")"
served() {
	local out
	out=$(curl -sS --max-time 10 "http://127.0.0.1:$P/ok") && [[ $(jget "$out" tag) == A ]]
}
# until_field LINK FIELD VALUE: waits (bounded) for a status counter.
until_field() {
	local i
	for ((i = 0; i < 100; i++)); do
		[[ $(status_field "$1" "$2") == "$3" ]] && return 0
		sleep 0.05
	done
	fail "$1 $2=$(status_field "$1" "$2"), want $3"
}

log "1. --max-conns 5: 5 idle clients held, the next 3 closed at once and counted"
# Idle clients stay: no first-byte or header deadline.
start_xc --max-conns 5 --first-byte-timeout 0 --header-timeout 3600
wait_listen "$P"
served || fail "no service at start"
coproc HOLD { exec "$PY" -u "$PEERS" hold "127.0.0.1:$P" --conns 5 --seconds 30; }
HOLD_PID=$HOLD_PID
PIDS+=("$HOLD_PID")
read -r -t 10 line <&"${HOLD[0]}" || fail "holder did not report"
[[ $line == "HELD 5" ]] || fail "holder: $line"
for ((i = 0; i < 3; i++)); do
	timeout 20 "$PY" "$PEERS" expect-close "127.0.0.1:$P" --within 8 ||
		fail "connection over --max-conns not closed"
done
until_field web refused_max_conns 3
json=$("${CLI[@]}" --json links ls) || fail "links ls --json failed"
[[ $("$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["refused_max_conns"])' <<<"$json") == 3 ]] ||
	fail "links ls --json: $json"
table=$("${CLI[@]}" links ls) || fail "links ls failed"
grep -q "^web .* 3/0 " <<<"$table" || fail "links ls: refusals not shown: $table"
grep -q "http 127.0.0.1:$P: 5 connections, the limit: closing new ones" "$TMP/xc.log" ||
	fail "no log line for the refusals"
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do served && break; sleep 0.1; done
served || fail "no service once under the limit again"
stop_xc

log "2. out of fds: pending clients closed with the reserve fd, then service resumes"
start_xc --first-byte-timeout 0 --header-timeout 3600
wait_listen "$P"
served || fail "no service at start"
base=$(ls "/proc/$XC_PID/fd" | wc -l)
stop_xc
LIMIT=$((base + 20))
XC_WRAP=(prlimit --nofile=$LIMIT:$LIMIT)
start_xc --first-byte-timeout 0 --header-timeout 3600
wait_listen "$P"
served || fail "no service under the fd limit"
coproc HOLD { exec "$PY" -u "$PEERS" hold "127.0.0.1:$P" --conns 60 --seconds 40; }
HOLD_PID=$HOLD_PID
PIDS+=("$HOLD_PID")
read -r -t 20 line <&"${HOLD[0]}" || fail "holder did not report"
log "holder: $line"
# Without the reserve fd these would wait in the backlog until a holder
# closes: they are closed instead.
for ((i = 0; i < 3; i++)); do
	timeout 20 "$PY" "$PEERS" expect-close "127.0.0.1:$P" --within 8 ||
		fail "a client pending at the fd limit was not closed"
done
grep -q "accept http 127.0.0.1:$P: Too many open files; pausing accepts" "$TMP/xc.log" ||
	fail "no EMFILE log line: $(grep -i accept "$TMP/xc.log" | head -3)"
(($(grep -c 'pausing accepts' "$TMP/xc.log") < 20)) || fail "EMFILE warnings not rate-limited"
# The status socket needs an fd too: asked once the holder let go.
exec {HOLD[1]}>&-
wait "$HOLD_PID" 2>/dev/null || true
for ((i = 0; i < 50; i++)); do served && break; sleep 0.1; done
served || fail "service did not resume after the clients closed"
(($(status_field web failed) >= 3)) || fail "failed=$(status_field web failed), want the shed clients counted"
stop_xc
XC_WRAP=()

log "3. consumer_pid: same namespace keeps the listener, another moves the route"
# holder NAME [NSENTER...]: a sleeping process (in a new netns, or in the
# one the nsenter prefix gives); sets HOLDER.
holder() {
	local name=$1
	shift
	if (($#)); then
		spawn "$name" "$@" sleep 60
	else
		spawn "$name" unshare --net sleep 60
	fi
	HOLDER=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] && break
		sleep 0.02
	done
	[[ $(readlink "/proc/$HOLDER/ns/net") != "$(readlink /proc/self/ns/net)" ]] ||
		fail "holder $HOLDER not in a netns of its own"
}
holder h1
H1=$HOLDER
IN1=(nsenter --net="/proc/$H1/ns/net")
"${IN1[@]}" ip link set lo up
holder h1b "${IN1[@]}"
H1B=$HOLDER
holder h2
H2=$HOLDER
IN2=(nsenter --net="/proc/$H2/ns/net")
"${IN2[@]}" ip link set lo up
# Two links on one address, their consumers two processes of one netns:
# one listener there, shared.
write_graph "$(http_link x "127.0.0.1:$P/x" "127.0.0.1:$A" EXTERNAL "$H1")" \
	"$(http_link y "127.0.0.1:$P/y" "127.0.0.1:$A" EXTERNAL "$H1B")"
start_xc
wait_listen "$P" "${IN1[@]}"
for p in x y; do
	out=$("${IN1[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/$p/1") || fail "/$p inside $H1"
	[[ $(jget "$out" tag) == A ]] || fail "/$p inside $H1: $out"
done
[[ $(status_field y state) == listening ]] || fail "link y: $(status_field y state) (bind refused in a shared netns?)"
ino1=$("${IN1[@]}" ss -Hltne "sport = :$P" | grep -o 'ino:[0-9]*')
log "x's consumer_pid $H1 -> $H1B (same netns): nothing moves"
# Link z (another port) comes with the same graph: once it listens, the
# update of x was applied.
Z=$(freeport)
write_graph "$(http_link x "127.0.0.1:$P/x" "127.0.0.1:$A" EXTERNAL "$H1B")" \
	"$(http_link y "127.0.0.1:$P/y" "127.0.0.1:$A" EXTERNAL "$H1B")" \
	"$(http_link z "127.0.0.1:$Z/" "127.0.0.1:$A")"
wait_listen "$Z"
ino2=$("${IN1[@]}" ss -Hltne "sport = :$P" | grep -o 'ino:[0-9]*')
[[ -n $ino1 && $ino1 == "$ino2" ]] || fail "listener replaced in the same netns: $ino1 -> $ino2"
! grep -q "keeping the old listener" "$TMP/xc.log" || fail "a same-netns update tried to rebind: $(grep 'keeping' "$TMP/xc.log")"
out=$("${IN1[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/x/2") || fail "/x inside $H1 after the update"
[[ $(jget "$out" tag) == A ]] || fail "/x after the update: $out"
log "x's consumer_pid -> $H2 (another netns): the route moves there"
write_graph "$(http_link x "127.0.0.1:$P/x" "127.0.0.1:$A" EXTERNAL "$H2")" \
	"$(http_link y "127.0.0.1:$P/y" "127.0.0.1:$A" EXTERNAL "$H1B")" \
	"$(http_link z "127.0.0.1:$Z/" "127.0.0.1:$A")"
wait_listen "$P" "${IN2[@]}"
out=$("${IN2[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/x/3") || fail "/x inside $H2"
[[ $(jget "$out" tag) == A && $(jget "$out" path) == /3 ]] || fail "/x inside $H2: $out"
code=$("${IN1[@]}" curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$P/x/4") || true
[[ $code == 404 ]] || fail "/x still routed in $H1's netns: $code"
out=$("${IN1[@]}" curl -sS --max-time 10 "http://127.0.0.1:$P/y/5") || fail "/y inside $H1 after x moved"
[[ $(jget "$out" tag) == A ]] || fail "/y after x moved: $out"
log "ok"
