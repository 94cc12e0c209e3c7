#!/usr/bin/env bash
# Issue 12, item 5: a container's descendants die with it. Every process
# container runs in a PID namespace of its own whose init is pv-ctrld's
# child: stop, restart, shutdown and a crash (SIGKILL) of pv-ctrld take
# every process of the container, also orphans ("sh -c 'sleep 1000 &
# wait'") and nginx's workers; a restarted pv-ctrld ends the PID namespace
# a crashed one left in its record. Processes are counted per container
# PID namespace before and after.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init crdesc
sb_device
D=$SB_DEV

ST=$SB_TMP/st
mkdir -p "$ST"
cp -r "$PVX_SRC/examples/ingress-hybrid/." "$ST/"
"$SB_PY" - "$ST/state.json" <<'PY'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["bg/run.json"] = {"name": "bg", "type": "process",
                    "exec": ["sh", "-c", "sleep 1000 & wait"],
                    "network": {"mode": "none"}}
json.dump(j, open(p, "w"), indent=1)
PY
NG=example-nginx-ingress

# pidns PID: the PID namespace of PID; members NS: the pids in it.
pidns() { readlink "/proc/$1/ns/pid"; }
members() { # one find, not a readlink per process: fast on a loaded box
	# (find fails on processes that vanish while it walks)
	{ find /proc -mindepth 3 -maxdepth 3 -path '/proc/[0-9]*/ns/pid' \
		-printf '%l %h\n' 2>/dev/null || true; } |
		awk -v ns="$1" '$1 == ns { split($2, a, "/"); print a[3] }'
}
count() { members "$1" | wc -l; }
# Processes as PID:START (namespace inode numbers are reused at once, PIDs
# later: a PID with its start time names one process).
declare -A NS PROCS
# look NAME MIN: the container runs with at least MIN processes in its own
# PID namespace; remembers them, records them for the cleanup.
look() {
	local pid ns p st list=""
	pid=$(sb_container_get "$1" pid)
	ns=$(pidns "$pid") || return 1
	[[ $ns != "$(pidns $$)" ]] || sb_fail "$1 (pid $pid) shares the device's PID namespace"
	for p in $(members "$ns"); do
		st=$(sb_starttime "$p") || continue
		list+=" $p:$st"
	done
	# shellcheck disable=SC2086 # a list of words
	(($(wc -w <<<"$list") >= $2)) || return 1
	for p in $list; do sb_record "ct-$1-${p%%:*}" "${p%%:*}"; done
	NS[$1]=$ns
	PROCS[$1]=$list
}
alive_of() { # LIST: how many of the PID:START are alive
	local e n=0
	for e in $1; do
		if sb_alive "${e%%:*}" "${e#*:}"; then n=$((n + 1)); fi
	done
	echo "$n"
}
running_with() { # NAME MIN
	[[ $(sb_container_get "$1" status) == running ]] && look "$1" "$2"
}
up() { # NAME: pv-ctrld, both containers running with their processes
	rm -f "$SB_CTRL"
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$ST/state.json" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
	# bg: sh + sleep; nginx: master + worker(s)
	sb_wait_for "bg with sh and sleep" 20 running_with bg 2
	sb_wait_for "nginx with its workers" 20 running_with "$NG" 2
	running_with bg 2
	running_with "$NG" 2
	sb_log "bg: $(alive_of "${PROCS[bg]}") processes, nginx: $(alive_of "${PROCS[$NG]}") processes"
}
none_of() { [[ -n $1 && $(alive_of "$1") == 0 ]]; }
gone() { # NAME WHAT: none of NAME's remembered processes is alive
	sb_wait_for "$1's processes gone ($2)" 10 none_of "${PROCS[$1]}"
}

sb_step "1. stop and start actions"
up ctrld
n=$(alive_of "${PROCS[bg]}")
sb_api PUT /containers/bg '{"action": "stop"}' >/dev/null || sb_fail "stop refused"
[[ $(sb_container_get bg status) == stopped ]] || sb_fail "bg not stopped after the answer"
gone bg "stop"
sb_ok "stop: bg had $n processes, 0 left"
sb_api PUT /containers/bg '{"action": "start"}' >/dev/null || sb_fail "start refused"
sb_wait_for "bg again" 20 running_with bg 2
running_with bg 2

sb_step "2. restart action"
PROCS[oldbg]=${PROCS[bg]} n=$(alive_of "${PROCS[bg]}") old=$(sb_container_get bg pid)
sb_api PUT /containers/bg '{"action": "restart"}' >/dev/null || sb_fail "restart refused"
gone oldbg "restart"
sb_wait_for "bg restarted" 20 running_with bg 2
running_with bg 2
[[ $(sb_container_get bg pid) != "$old" ]] || sb_fail "restart kept the pid"
sb_ok "restart: $n processes of the old bg gone, a new namespace runs"

sb_step "3. shutdown (SIGTERM)"
n1=$(alive_of "${PROCS[bg]}") n2=$(alive_of "${PROCS[$NG]}")
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
gone bg "shutdown"
gone "$NG" "shutdown"
sb_ok "shutdown: bg $n1 and nginx $n2 processes, 0 left"

sb_step "4. pv-ctrld SIGKILLed"
up ctrld2
n1=$(alive_of "${PROCS[bg]}") n2=$(alive_of "${PROCS[$NG]}")
kill -KILL "$(sb_pid ctrld2)"
sb_stop ctrld2 1 || true
gone bg "crash"
gone "$NG" "crash"
sb_ok "crash: bg $n1 and nginx $n2 processes, 0 left (nginx workers too)"

sb_step "5. a restart ends what a crashed pv-ctrld left"
# A leftover that the parent-death signal did not take (as if pv-ctrld
# had died between two steps): a PID namespace with an orphan, named in
# the record as bg's init.
sb_spawn leftover unshare --pid --fork --kill-child=TERM sh -c 'sleep 1000 & wait'
U=$SB_LAST_PID
sb_wait_for "leftover init" 10 eval '[[ -n $(cat /proc/$U/task/$U/children 2>/dev/null) ]]'
INIT=$(awk '{print $1}' "/proc/$U/task/$U/children")
sb_record leftover-init "$INIT"
sb_wait_for "leftover with its orphan-to-be" 10 eval '(( $(count "$(pidns "$INIT")") >= 2 ))'
PROCS[left]=""
for p in $(members "$(pidns "$INIT")"); do
	sb_record "left-$p" "$p"
	PROCS[left]+=" $p:$(sb_starttime "$p")"
done
n=$(alive_of "${PROCS[left]}")
cat >"$SB_STATE/runtime.json" <<JSON
{"addresses": [], "bridges": [], "veths": [],
 "pids": [{"name": "bg", "pid": $INIT, "start": $(sb_starttime "$INIT"),
           "init": $INIT, "init_start": $(sb_starttime "$INIT")}]}
JSON
up ctrld3
gone left "restart after a crash"
sb_ok "the leftover namespace ($n processes) ended by the new pv-ctrld"
sb_stop ctrld3 15 || sb_fail "pv-ctrld exited with status $?"
gone bg "final shutdown"
gone "$NG" "final shutdown"

sb_pass "no process of a container outlives it"
