# Harness of the kernel relay tests (tests/e2e/kt_*.sh, issue 10; sourced):
# xc_tcp_lib.sh (a private network namespace, loopback only) with two
# pv-xconnects side by side, one with --kernel-relay=on, one with off, so
# that a test runs the same traffic through the kernel path and through
# the splice relay and compares them. Where the kernel relay cannot be
# activated (no BPF, no sockmap, no privilege) the test ends as skipped
# with pv-xconnect's reason (exit 77), never as passed.
#
#   kt_start MODE [ARGS...]   pv-xconnect MODE (on or off) on
#                             $TMP/graph-MODE.json (written with
#                             kt_use MODE; write_graph ...), status socket
#                             $TMP/status-MODE.sock, log $TMP/xc-MODE.log;
#                             KT_PID[MODE]
#   kt_start_both NAME=TARGET...  both pv-xconnects (on, then off), each
#                             with a link NAME-MODE to TARGET per
#                             argument, listening on 127.0.0.1 port
#                             KT_PORT[NAME-MODE]
#   kt_use MODE               makes MODE's pv-xconnect the one that
#                             write_graph, status_field, wait_sock and
#                             start_xc act on
#   kt_sessions LINK          "client mode" per line, GET /sessions
#   kt_wait_field LINK FIELD VALUE [SECONDS]
#   kt_wait_lines FILE REGEX N [SECONDS]  until FILE has N matches of
#                             REGEX (a peer prints after it answered: the
#                             client may have its answer first)
#   kt_fds PID                sockets a process holds (pipes are not
#                             counted: the splice relay pools them)
# shellcheck source=tests/e2e/lib/xc_tcp_lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/xc_tcp_lib.sh"

KTPEERS="$PVX_SRC/tests/e2e/lib/ktpeers.py"
declare -A KT_PID=()

kt_use() {
	XC_GRAPH=$TMP/graph-$1.json
	XC_STATUS=$TMP/status-$1.sock
	XC_LOG=$TMP/xc-$1.log
	XC_KERNEL_RELAY=$1
	XC_PID=${KT_PID[$1]:-}
}

kt_start() {
	local mode=$1
	shift
	kt_use "$mode"
	start_xc "$@"
	KT_PID[$mode]=$XC_PID
}

declare -A KT_PORT=()
kt_start_both() {
	local mode spec name links
	for mode in on off; do
		links=()
		for spec; do
			name=${spec%%=*}-$mode
			KT_PORT[$name]=$(freeport)
			links+=("$(link_json "$name" "127.0.0.1:${KT_PORT[$name]}" "${spec#*=}")")
		done
		kt_use "$mode"
		write_graph "${links[@]}"
		kt_start "$mode"
		for spec; do wait_listen "${KT_PORT[${spec%%=*}-$mode]}"; done
	done
}

kt_sessions() {
	curl -sS --unix-socket "$XC_STATUS" http://x/sessions |
		"$PY" -c 'import json,sys
for s in json.load(sys.stdin)["sessions"]:
    if s.get("link") == sys.argv[1]:
        print(s.get("client"), s.get("mode"))' "$1"
}

kt_wait_field() {
	# A wall-clock deadline: a busy pv-xconnect answers its status slowly.
	local end=$((${EPOCHREALTIME/./} + ${4:-10} * 1000000))
	while ((${EPOCHREALTIME/./} < end)); do
		[[ $(status_field "$1" "$2") == "$3" ]] && return 0
		sleep 0.05
	done
	fail "$1 $2=$(status_field "$1" "$2"), want $3 (pv-xconnect $XC_KERNEL_RELAY)"
}

kt_wait_lines() {
	local n=0 end=$((${EPOCHREALTIME/./} + ${4:-10} * 1000000))
	while ((${EPOCHREALTIME/./} < end)); do
		# occurrences, not lines: a threaded peer's prints can share one
		n=$({ grep -o -- "$2" "$1" 2>/dev/null || true; } | wc -l)
		((n >= $3)) && return 0
		sleep 0.05
	done
	fail "$1: $n lines of $2, want $3"
}

kt_fds() { find "/proc/$1/fd" -mindepth 1 -lname 'socket:*' 2>/dev/null | wc -l; }
