#!/usr/bin/env bash
# Issue 11, "Done when" 5: per-container logs, exit status and
# auto_recovery with a real pv-ctrld in a device namespace.
# - "crasher" prints lines on stdout and stderr and exits 3, restarted twice
#   (on-failure, maximum_retry_count 2): `pvcontrol container logs` shows
#   its last lines and its exit code, `containers ls` its exit and restarts,
#   the log file is under the state dir, pv-ctrld logs the crash with the
#   name (and, with -v, each line with the name); GET /metrics counts it.
# - nginx with auto_recovery on-failure, killed with SIGKILL: it comes back
#   with a new pid and the same address, and the ingress serves again
#   through the same pv-xconnect.
# - "talker" prints a line every 0.2 s: `container logs -f` follows it and
#   ends by itself when the container is stopped; `container exec` runs
#   commands in its namespaces.
. "$(dirname "$0")/lib/sandbox.sh"

CT=example-nginx-ingress
sb_init clrec
S=$SB_TMP/state-src
cp -a "$PVX_SRC/examples/ingress-hybrid" "$S"
rm -f "$S/state.json"
"$SB_PY" - "$S" <<'PY'
import json, os, sys
s = sys.argv[1]
p = f"{s}/example-nginx-ingress/run.json"
run = json.load(open(p))
run["auto_recovery"] = {"policy": "on-failure", "retry_delay": 0.2}
json.dump(run, open(p, "w"))
os.mkdir(f"{s}/crasher")
json.dump({"name": "crasher", "type": "process",
           "exec": ["/bin/sh", "-c", "echo hello from crasher; "
                    "echo to stderr >&2; echo last words; exit 3"],
           "auto_recovery": {"type": "on-failure", "maximum_retry_count": 2,
                             "retry_delay": 0.1, "backoff_factor": 1}},
          open(f"{s}/crasher/run.json", "w"))
os.mkdir(f"{s}/talker")
json.dump({"name": "talker", "type": "process",
           "exec": ["/bin/sh", "-c",
                    "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.2; done"]},
          open(f"{s}/talker/run.json", "w"))
PY

fetch() { sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:80/ | grep -q "Welcome to nginx!"; }
cli() { "$PVX_BIN/pvcontrol" --ctrl "$SB_CTRL" "$@"; }

sb_step "scenario up (pv-ctrld -v)"
sb_device
sb_pvx_up "$S" -v
sb_pvx_wait_ingress nginx-http "$CT" 80
fetch || sb_fail "ingress does not work at start"

sb_step "crasher: exit 3, restarted twice, then left exited"
gave_up() {
	[[ $(sb_container_get crasher restarts) == 2 &&
		$(sb_container_get crasher status) == exited ]]
}
sb_wait_for "crasher restarted twice and exited" 20 gave_up
[[ $(sb_container_get crasher error) == *"gave up after 2 restarts"* ]] ||
	sb_fail "no reason for giving up: $(sb_container_get crasher error)"
[[ $(sb_container_get crasher exits) == 3 ]] || sb_fail "exits $(sb_container_get crasher exits)"
cli container logs crasher >"$SB_TMP/logs.out" 2>"$SB_TMP/logs.err" ||
	sb_fail "pvcontrol container logs failed: $(cat "$SB_TMP/logs.err")"
[[ $(grep -c '^last words$' "$SB_TMP/logs.out") == 3 ]] ||
	sb_fail "logs: want 3 runs' last lines: $(cat "$SB_TMP/logs.out")"
grep -q '^to stderr$' "$SB_TMP/logs.out" || sb_fail "stderr not captured"
[[ $(tail -n 1 "$SB_TMP/logs.out") == "last words" ]] || sb_fail "last line"
grep -q "crasher exited: exit code 3 at 20" "$SB_TMP/logs.err" ||
	sb_fail "logs do not show the exit code: $(cat "$SB_TMP/logs.err")"
cli containers ls >"$SB_TMP/ls.out" || sb_fail "containers ls"
grep -Eq '^crasher +process +none +exited +0 +- +3 +2 ' "$SB_TMP/ls.out" ||
	sb_fail "containers ls row: $(cat "$SB_TMP/ls.out")"
[[ -s $SB_STATE/logs/crasher.log ]] || sb_fail "no $SB_STATE/logs/crasher.log"
grep -q 'warn container crasher crashed pid=[0-9]* exit_code=3' "$SB_TMP/ctrld.log" ||
	sb_fail "crash not logged with the name"
grep -q 'debug container crasher: last words' "$SB_TMP/ctrld.log" ||
	sb_fail "output not forwarded with the name at debug"
m=$(sb_api GET /metrics) || sb_fail "GET /metrics"
grep -q '^pvc_container_restarts_total{name="crasher"} 2$' <<<"$m" || sb_fail "metrics restarts"
grep -q '^pvc_container_exits_total{name="crasher"} 3$' <<<"$m" || sb_fail "metrics exits"
sb_ok "logs, exit code 3, 2 restarts, log file, crash line, metrics"

sb_step "nginx killed (SIGKILL): auto_recovery on-failure brings it back"
OLD=$SB_PROVIDER_PID
XC=$(sb_pid xconnect)
XC_START=$(sb_start_of xconnect)
SOCK=$(sb_graph_get nginx-http socket)
kill -KILL "$OLD"
new_pid() {
	local p
	p=$(sb_graph_get nginx-http provider_pid)
	[[ -n $p && $p != 0 && $p != "$OLD" ]]
}
sb_wait_for "a new provider_pid in the graph" 20 new_pid
NEW=$(sb_graph_get nginx-http provider_pid)
sb_record nginx-new "$NEW"
[[ $(sb_graph_get nginx-http socket) == "$SOCK" ]] ||
	sb_fail "socket changed: $(sb_graph_get nginx-http socket), was $SOCK"
[[ $(sb_container_get "$CT" restarts) == 1 ]] || sb_fail "restarts $(sb_container_get "$CT" restarts)"
[[ $(sb_container_get "$CT" exit) == *SIGKILL* ]] || sb_fail "exit: $(sb_container_get "$CT" exit)"
sb_wait_for "nginx listening again in pid $NEW's netns" 20 sb_listen_pids "pid:$NEW" "${SOCK##*:}"
sb_wait_for "curl through the ingress after the crash" 10 fetch
sb_alive "$XC" "$XC_START" || sb_fail "pv-xconnect was restarted"
grep -q "warn container $CT crashed pid=$OLD exit_code=0 signal=9 (SIGKILL)" "$SB_TMP/ctrld.log" ||
	sb_fail "nginx crash not logged"
cli containers ls >"$SB_TMP/ls2.out" || sb_fail "containers ls"
grep -Eq "^$CT +process +pool +running +$NEW +eth0=${SOCK%:*}/24 +SIGKILL +1 " "$SB_TMP/ls2.out" ||
	sb_fail "containers ls: $(cat "$SB_TMP/ls2.out")"
sb_ok "new pid $NEW (was $OLD), same socket $SOCK, ingress serves again"

sb_step "container exec enters the container's namespaces"
[[ $(cli container exec talker -- hostname) == talker ]] || sb_fail "exec hostname: not talker's UTS namespace"
addr=$(cli container exec "$CT" -- ip -4 -o addr show dev eth0) || sb_fail "exec ip addr"
[[ $addr == *" ${SOCK%:*}/24 "* ]] || sb_fail "exec: eth0 of nginx's netns: $addr"
cli container exec "$CT" -- test -f /tmp/nginx/nginx.conf || sb_fail "exec: not nginx's private /tmp"
[[ $(cli container exec "$CT" -- pwd) == "$S" ]] || sb_fail "exec: cwd $(cli container exec "$CT" -- pwd)"
rc=0
cli container exec talker -- sh -c 'exit 7' || rc=$?
((rc == 7)) || sb_fail "exec exit status $rc, want 7"
rc=0
cli container exec crasher -- true 2>"$SB_TMP/exec.err" || rc=$?
((rc == 1)) && grep -q "crasher is exited: no process" "$SB_TMP/exec.err" || sb_fail "exec of an exited container: $rc $(cat "$SB_TMP/exec.err")"
rc=0
cli container exec talker 2>/dev/null || rc=$?
((rc == 2)) || sb_fail "exec without -- CMD: $rc"
sb_ok "hostname, eth0 ${SOCK%:*}, private /tmp, cwd, exit status, refusals"

sb_step "container logs -f follows talker and ends when it stops"
sb_wait_for "talker has printed" 10 eval '[[ $(cli container logs talker) == *"tick 3"* ]]'
cli container logs -f talker >"$SB_TMP/follow.out" 2>&1 &
FOLLOW=$!
sb_record follow "$FOLLOW"
n0=$(cli container logs talker | wc -l)
more() { (($(grep -c '^tick' "$SB_TMP/follow.out") > n0 + 3)); }
sb_wait_for "new ticks through -f" 10 more
sb_api PUT /containers/talker '{"action": "stop"}' >/dev/null || sb_fail "stop talker"
sb_wait_for "logs -f ended after the stop" 10 eval '! kill -0 $FOLLOW'
wait "$FOLLOW" || sb_fail "logs -f exit status $?"
[[ $(grep -c '^tick' "$SB_TMP/follow.out") -ge $((n0 + 3)) ]] || sb_fail "follow output"
# Lines come once each, in order.
"$SB_PY" - "$SB_TMP/follow.out" <<'PY' || sb_fail "follow output not in order or doubled"
import sys
t = [int(l.split()[1]) for l in open(sys.argv[1]) if l.startswith("tick ")]
assert t == list(range(t[0], t[0] + len(t))), t
PY
code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SB_CTRL" http://x/containers/nosuch/logs)
[[ $code == 404 ]] || sb_fail "logs of an unknown container: $code"
sb_ok "follow, stop, 404"

sb_step "shutdown"
sb_stop xconnect 5 || true
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_pass "container logs, exit status and auto_recovery"
