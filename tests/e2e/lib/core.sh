# shellcheck shell=bash
# Core of every end-to-end harness (sourced by sandbox.sh, xc_tcp_lib.sh
# and ctrl_lib.sh, never by a test directly): logging and failure helpers,
# a process list keyed by PID + start time, waits, and the one EXIT trap
# that ends what the test started and runs the harness's own cleanup
# hooks. docs/testing.md describes the layers.
#
#   sb_core_start DIR       DIR: the test's temp dir (removed at the end
#                           unless SB_KEEP=1). Installs the EXIT/INT/TERM/ERR
#                           traps; the process list is DIR/pids.
#   sb_log / sb_step / sb_ok / sb_fail (exit 1) / sb_pass
#   sb_skip REASON          ends the test as skipped: exit 77, which ctest
#                           reports as "Not Run" (SKIP_RETURN_CODE), never
#                           as passed; for what this machine cannot do.
#   sb_spawn NAME CMD...    background CMD, output to DIR/NAME.log, recorded.
#   sb_record NAME PID      records a PID (+ its start time) for the cleanup.
#   sb_pid NAME / sb_start_of NAME / sb_alive PID [START] / sb_starttime PID
#   sb_stop NAME [GRACE_S]  SIGTERM, then SIGKILL after GRACE_S (5).
#   sb_wait_for DESC TMO_S CMD...  polls CMD until it succeeds or sb_fail.
#   sb_watchdog SECONDS     SIGTERMs the test after SECONDS (so it still
#                           cleans up before ctest's timeout SIGKILLs it).
# Hooks a harness sets:
#   SB_LOG_TAG              prefix of every log line (e.g. the test's name).
#   SB_PRE_HOOKS / SB_POST_HOOKS  functions the cleanup runs (with the exit
#                           status as $1) before / after ending processes;
#                           one returning non-zero makes the test fail.
#   SB_PID_ARRAYS           names of arrays of bare PIDs that tests append
#                           to (PIDS, OWN_PIDS): also ended by the cleanup.
#   SB_LOG_GLOBS            files whose tails are printed on failure
#                           (default: DIR/*.log).
# shellcheck disable=SC2034 # SB_* globals are for the sourcing scripts
[[ -z ${SB_CORE_LOADED:-} ]] || return 0
SB_CORE_LOADED=1
set -Eeuo pipefail

SB_PY=/usr/bin/python3 # the system python, never a pyenv shim (PIDs!)
SB_T0=${EPOCHREALTIME/./}
SB_LOG_TAG="" SB_CORE_TMP="" SB_PIDS_FILE=""
SB_LAST_PID="" SB_ACTIVE=0 SB_MAINPID="" SB_WATCHDOG="" SB_PASSED=0
SB_SKIPPED=0 SB_SKIP_RC=77
SB_PRE_HOOKS=() SB_POST_HOOKS=() SB_PID_ARRAYS=() SB_LOG_GLOBS=()

sb_log() {
	local now=${EPOCHREALTIME/./}
	printf '[%s%7.3fs] %s\n' "${SB_LOG_TAG:+$SB_LOG_TAG }" \
		"$(((now - SB_T0) / 1000))e-3" "$*" >&2
}
sb_step() { printf '\n==== %s\n' "$*" >&2; }
sb_ok() { sb_log "OK   $*"; }
sb_fail() {
	sb_log "FAIL $*"
	exit 1
}
sb_pass() {
	SB_PASSED=1
	sb_log "PASS $*"
}
sb_skip() {
	SB_SKIPPED=1
	sb_log "SKIPPED $*"
	exit "$SB_SKIP_RC"
}

# --------------------------------------------------------------- processes
# Field 22 of /proc/PID/stat (start time in clock ticks); fails for a
# missing or zombie PID. PID + start time names a process uniquely.
sb_starttime() {
	local stat
	{ stat=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
	stat=${stat##*) }
	local -a f
	read -r -a f <<<"$stat"
	[[ ${f[0]} != Z ]] || return 1
	printf '%s\n' "${f[19]}"
}
sb_alive() {
	local st
	st=$(sb_starttime "$1") || return 1
	[[ -z ${2:-} || $st == "$2" ]]
}
# sb_descendants PIDS...: every descendant, as "PID:START" (one ps call).
sb_descendants() {
	local -A kids=()
	local pid ppid p
	while read -r pid ppid; do
		kids[$ppid]+=" $pid"
	done < <(ps -e -o pid=,ppid=)
	local -a queue=("$@") out=()
	while ((${#queue[@]})); do
		p=${queue[0]}
		queue=("${queue[@]:1}")
		for pid in ${kids[$p]:-}; do
			out+=("$pid")
			queue+=("$pid")
		done
	done
	for pid in "${out[@]}"; do
		p=$(sb_starttime "$pid") && printf '%s:%s\n' "$pid" "$p"
	done
	return 0
}

# sb_kill_entries GRACE_S PID:START...: SIGTERM all, wait, SIGKILL the rest.
sb_kill_entries() {
	local grace=$1 e pid want i
	shift
	local -a live=() still=()
	for e in "$@"; do
		pid=${e%%:*} want=${e#*:}
		[[ $pid != "$$" && $pid != "$BASHPID" ]] || continue
		sb_alive "$pid" "$want" || continue
		kill -TERM "$pid" 2>/dev/null && live+=("$e")
	done
	for ((i = 0; i < grace * 20 && ${#live[@]}; i++)); do
		sleep 0.05
		still=()
		for e in "${live[@]}"; do
			if sb_alive "${e%%:*}" "${e#*:}"; then still+=("$e"); fi
		done
		live=("${still[@]}")
	done
	for e in "${live[@]}"; do
		sb_log "pid ${e%%:*} ignored SIGTERM for ${grace}s: SIGKILL"
		kill -KILL "${e%%:*}" 2>/dev/null || true
	done
	for e in "$@"; do
		wait "${e%%:*}" 2>/dev/null || true
	done
	return 0
}

sb_record() {
	local st
	st=$(sb_starttime "$2") || return 0
	printf '%s %s %s\n' "$1" "$2" "$st" >>"$SB_PIDS_FILE"
}

sb_spawn() {
	local name=$1
	shift
	[[ $name =~ ^[A-Za-z0-9._-]+$ ]] || sb_fail "sb_spawn: bad name '$name'"
	# A shell function would run in a forked subshell and $! would not be
	# the program's PID: map the sandbox's two wrappers to what they run.
	case $1 in
	sb_in) set -- ip netns exec "${@:2}" ;;
	sb_dev_exec) set -- ip netns exec "$SB_DEV" "${@:2}" ;;
	esac
	if declare -F "$1" >/dev/null; then
		sb_fail "sb_spawn $name: $1 is a shell function (its PID would be a subshell's)"
	fi
	"$@" </dev/null >>"$SB_CORE_TMP/$name.log" 2>&1 9>&- &
	SB_LAST_PID=$!
	sb_record "$name" "$SB_LAST_PID"
	sb_alive "$SB_LAST_PID" ||
		sb_fail "$name died at once; see $SB_CORE_TMP/$name.log"
	sb_log "started $name: pid $SB_LAST_PID"
}

sb_pid() {
	awk -v n="$1" '$1 == n { p = $2 } END { if (p == "") exit 1; print p }' \
		"$SB_PIDS_FILE"
}
sb_start_of() {
	awk -v n="$1" '$1 == n { s = $3 } END { if (s == "") exit 1; print s }' \
		"$SB_PIDS_FILE"
}

sb_stop() {
	local name=$1 grace=${2:-5} pid st i rc=0
	pid=$(sb_pid "$name") || sb_fail "sb_stop: $name was never started"
	st=$(sb_start_of "$name")
	sb_alive "$pid" "$st" || {
		wait "$pid" 2>/dev/null || rc=$?
		return "$rc"
	}
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < grace * 20; i++)); do
		sb_alive "$pid" "$st" || break
		sleep 0.05
	done
	if sb_alive "$pid" "$st"; then
		sb_log "$name (pid $pid) ignored SIGTERM for ${grace}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || rc=$?
	return "$rc"
}

sb_wait_for() {
	local desc=$1 tmo=$2 end
	shift 2
	# A deadline in wall-clock time: a slow CMD must not stretch the wait.
	end=$((${EPOCHREALTIME/./} + tmo * 1000000))
	while :; do
		if ("$@") >/dev/null 2>&1; then return 0; fi
		((${EPOCHREALTIME/./} < end)) || break
		sleep 0.1
	done
	sb_fail "timeout (${tmo}s) waiting for: $desc"
}

sb_watchdog() {
	local secs=$1
	(
		trap - EXIT INT TERM ERR
		for ((i = 0; i < secs; i++)); do sleep 1; done
		echo "[watchdog] $secs s deadline passed: SIGTERM" >&2
		kill -TERM "$SB_MAINPID"
	) </dev/null 9>&- &
	SB_WATCHDOG=$!
}

# ---------------------------------------------------------------- cleanup
sb_dump_logs() {
	local f
	local -a globs=("${SB_LOG_GLOBS[@]}")
	((${#globs[@]})) || globs=("$SB_CORE_TMP/*.log")
	# shellcheck disable=SC2068 # the globs are meant to expand here
	for f in ${globs[@]}; do
		[[ -s $f ]] || continue
		printf '\n---- %s (last 40 lines)\n' "${f##*/}" >&2
		tail -n 40 "$f" >&2
	done
}

# The PIDs of the arrays named in SB_PID_ARRAYS, as PID:START.
sb_array_entries() {
	local name pid st
	for name in "${SB_PID_ARRAYS[@]}"; do
		declare -p "$name" >/dev/null 2>&1 || continue
		local -n arr=$name
		for pid in "${arr[@]}"; do
			[[ $pid =~ ^[0-9]+$ ]] || continue
			st=$(sb_starttime "$pid") && printf '%s:%s\n' "$pid" "$st"
		done
		unset -n arr
	done
	return 0
}

sb_cleanup() {
	local rc=$1 name pid st e h
	local -a mine=() tree=() extra=()
	set +e
	trap '' INT TERM
	((SB_ACTIVE)) || return "$rc"
	SB_ACTIVE=0
	if [[ -n $SB_WATCHDOG ]]; then
		mapfile -t tree < <(sb_descendants "$SB_WATCHDOG" | cut -d: -f1)
		kill -TERM "$SB_WATCHDOG" "${tree[@]}" 2>/dev/null || true
		wait "$SB_WATCHDOG" 2>/dev/null || true
		tree=()
	fi
	if ((rc != 0 && !(SB_SKIPPED && rc == SB_SKIP_RC))); then
		sb_log "exit status $rc: logs follow, then cleanup"
		sb_dump_logs
	fi
	for h in "${SB_PRE_HOOKS[@]}"; do
		"$h" "$rc" || rc=1
	done
	mapfile -t extra < <(sb_array_entries)
	if [[ -s $SB_PIDS_FILE ]]; then
		while read -r name pid st; do
			mine=("$pid:$st" "${mine[@]}") # reverse start order
		done <"$SB_PIDS_FILE"
	fi
	if ((${#mine[@]} + ${#extra[@]})); then
		mapfile -t tree < <(sb_descendants "${mine[@]%%:*}" "${extra[@]%%:*}")
		for e in "${mine[@]}"; do
			sb_kill_entries 5 "$e"
		done
		sb_kill_entries 2 "${extra[@]}"
		sb_kill_entries 3 "${tree[@]}"
	fi
	for h in "${SB_POST_HOOKS[@]}"; do
		"$h" "$rc" || rc=1
	done
	if [[ ${SB_KEEP:-0} == 1 ]]; then
		sb_log "SB_KEEP=1: kept $SB_CORE_TMP"
	else
		rm -rf -- "$SB_CORE_TMP"
	fi
	if ((rc == 0 && !SB_PASSED)); then sb_log "PASS"; fi
	sb_log "cleanup done (exit $rc)"
	return "$rc"
}

sb_on_exit() {
	local rc=$?
	# A subshell that exits must not clean up the test of its parent.
	[[ $BASHPID == "$SB_MAINPID" ]] || exit "$rc"
	trap - ERR
	sb_cleanup "$rc"
	exit $?
}

sb_core_start() {
	SB_CORE_TMP=$1
	SB_PIDS_FILE=$SB_CORE_TMP/pids
	: >"$SB_PIDS_FILE"
	SB_MAINPID=$BASHPID
	SB_ACTIVE=1
	trap sb_on_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'sb_log "command failed (rc=$?) at ${BASH_SOURCE[0]##*/}:$LINENO: $BASH_COMMAND"' ERR
}
