# Shared harness of the xc_tcp_* end-to-end tests (sourced): each test runs
# in a network namespace of its own (private loopback, no port clashes, no
# traffic in the root namespace), records the PIDs it starts, and removes
# everything in an EXIT trap, also on failure. A thin layer on core.sh
# (process list, cleanup trap, failure helpers): see docs/testing.md.
set -Eeuo pipefail
: "${PVX_BIN:?set PVX_BIN to the bin directory of the build}"
: "${PVX_SRC:?set PVX_SRC to the repository root}"
if [[ -z ${XC_IN_NS:-} ]]; then
	exec unshare --net env XC_IN_NS=1 bash "$0" "$@"
fi
# shellcheck source=tests/e2e/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/core.sh"
ip link set lo up

PEERS="$PVX_SRC/tests/e2e/lib/peers.py"
PY=$SB_PY
XC_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/pvx-${XC_NAME}.XXXXXX")
# Bare PIDs tests may append to; the core's cleanup ends them too.
PIDS=()
XC_PID=""
SB_LOG_TAG=$XC_NAME
SB_PID_ARRAYS=(PIDS)
SB_LOG_GLOBS=("$TMP/*.log" "$TMP/*.out")
[[ -z ${XC_KEEP:-} ]] || SB_KEEP=1
sb_core_start "$TMP"

log() { sb_log "$@"; }
fail() { sb_fail "$@"; }

# xc_cleanup: the core's cleanup with the exit status in $? (for a test
# that installs its own EXIT trap and calls it last).
xc_cleanup() {
	local rc=$?
	sb_cleanup "$rc"
	exit $?
}

# Long-lived children get SIGKILL when this shell dies, so that even a
# test killed with SIGKILL (no trap runs) leaves no server behind.
ORPHAN_GUARD=(setpriv --pdeathsig KILL --)

# spawn NAME CMD...: starts CMD in the background, output in $TMP/NAME.out;
# sets SPAWNED to its PID.
spawn() {
	local name=$1
	shift
	"${ORPHAN_GUARD[@]}" "$@" </dev/null >"$TMP/$name.out" 2>&1 &
	SPAWNED=$!
	PIDS+=("$SPAWNED")
	sb_record "$name" "$SPAWNED"
}

# wait_ready NAME [PID]: until process PID (default: the last spawned,
# $SPAWNED) printed its READY line to $TMP/NAME.out; sets READY to what
# follows (the port or path).
wait_ready() {
	local name=$1 pid=${2:-$SPAWNED} i line
	for ((i = 0; i < 100; i++)); do
		line=$(grep -m1 '^READY ' "$TMP/$name.out" 2>/dev/null || true)
		if [[ -n $line ]]; then
			READY=${line#READY }
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || fail "peer $name died: $(cat "$TMP/$name.out")"
		sleep 0.05
	done
	fail "peer $name not ready in 5 s"
}

# start_peer NAME PEERS-ARGS...: a peers.py server, then wait_ready.
start_peer() {
	local name=$1
	shift
	spawn "$name" "$PY" -u "$PEERS" "$@"
	wait_ready "$name"
}

freeport() { "$PY" "$PEERS" freeport "$@"; }

# link_json NAME TARGET SOCKET [CONSUMER_PID [PROVIDER_PID]]: one tcp
# ingress link of the graph.
link_json() {
	printf '{"type":"tcp","name":"%s","consumer":"EXTERNAL","consumer_pid":%d,' \
		"$1" "${4:-0}"
	printf '"provider":"test","provider_pid":%d,"role":"EXTERNAL",' "${5:-0}"
	printf '"interface":"","target":"%s","socket":"%s"}' "$2" "$3"
}

# unix_link_json NAME TARGET SOCKET [CONSUMER_PID [PROVIDER_PID]]: the same
# as a link of the unix plugin (TARGET is the listening socket's path).
unix_link_json() { link_json "$@" | sed 's/^{"type":"tcp"/{"type":"unix"/'; }

# wait_sock PATH [SECONDS]: until PATH is a socket (default 5 s).
wait_sock() {
	local i
	for ((i = 0; i < ${2:-5} * 20; i++)); do
		[[ -S $1 ]] && return 0
		kill -0 "$XC_PID" 2>/dev/null || fail "pv-xconnect died"
		sleep 0.05
	done
	fail "no socket at $1 after ${2:-5} s"
}

# wait_gone PATH [SECONDS]: until nothing is at PATH (default 2 s).
wait_gone() {
	local i
	for ((i = 0; i < ${2:-2} * 20; i++)); do
		[[ -e $1 || -L $1 ]] || return 0
		sleep 0.05
	done
	fail "$1 still there after ${2:-2} s"
}

# The pv-xconnect start_xc starts, and status_field and write_graph talk
# to: its graph file, status socket and log. A test running two of them
# (kt_lib.sh: kernel relay on and off side by side) switches these.
XC_GRAPH=$TMP/graph.json
XC_STATUS=$TMP/status.sock
XC_LOG=$TMP/xc.log

# write_graph LINK_JSON...: the graph file, replaced atomically.
write_graph() {
	local IFS=,
	printf '[%s]\n' "$*" >"$XC_GRAPH.tmp"
	mv "$XC_GRAPH.tmp" "$XC_GRAPH"
}

# start_xc [EXTRA-ARGS...]: pv-xconnect on $XC_GRAPH (a wrapper such as
# prlimit can be given in XC_WRAP); sets XC_PID. Health probes are off
# (their connections would show in backends that count them); a test
# turns them on with --health-interval MS.
# XC_KERNEL_RELAY (environment; on, off or auto; unset: pv-xconnect's
# default) is passed as --kernel-relay: ctest runs every xc_tcp_* test
# once with on and once with off (tests/CMakeLists.txt). With on, a
# pv-xconnect that could not activate the kernel relay (no BPF, no
# sockmap, no privilege) ends the test as skipped naming its reason; with
# off, one that reports it active fails the test.
start_xc() {
	local kr=()
	[[ -z ${XC_KERNEL_RELAY:-} ]] || kr=("--kernel-relay=$XC_KERNEL_RELAY")
	"${ORPHAN_GUARD[@]}" "${XC_WRAP[@]}" "$PVX_BIN/pv-xconnect" --graph-file "$XC_GRAPH" \
		--status "$XC_STATUS" -v --health-interval 0 "${kr[@]}" "$@" </dev/null >"$XC_LOG" 2>&1 &
	XC_PID=$!
	PIDS+=("$XC_PID")
	sb_record xconnect "$XC_PID"
	[[ -z ${XC_KERNEL_RELAY:-} ]] || xc_check_kernel_relay "$XC_KERNEL_RELAY"
}
XC_WRAP=()

# xc_kernel_relay FIELD: mode, active (true/false) or reason of the
# running pv-xconnect's kernel relay (status socket, GET /sessions).
xc_kernel_relay() {
	curl -sS --unix-socket "$XC_STATUS" http://x/sessions |
		"$PY" -c 'import json,sys
v = json.load(sys.stdin)["kernel_relay"][sys.argv[1]]
print(str(v).lower() if isinstance(v, bool) else v)' "$1"
}

# xc_check_kernel_relay MODE: after start_xc, what XC_KERNEL_RELAY says
# (see start_xc): skipped if MODE is on and the relay is not active.
xc_check_kernel_relay() {
	local active="" reason i
	wait_sock "$XC_STATUS" 10
	for ((i = 0; i < 100; i++)); do
		active=$(xc_kernel_relay active 2>/dev/null) && break
		kill -0 "$XC_PID" 2>/dev/null || fail "pv-xconnect died"
		sleep 0.05
	done
	[[ -n $active ]] || fail "no kernel_relay in GET /sessions: $(curl -sS --unix-socket "$XC_STATUS" http://x/sessions 2>&1)"
	reason=$(xc_kernel_relay reason)
	case $1:$active in
	on:true) log "kernel relay active" ;;
	on:false) sb_skip "kernel relay on but not active here: $reason" ;;
	off:true) fail "--kernel-relay=off, yet the status says active" ;;
	off:false | auto:*) log "kernel relay $1: active=$active ($reason)" ;;
	*) fail "kernel_relay.active=$active" ;;
	esac
}

# stop_xc: stops the running pv-xconnect (SIGTERM, then SIGKILL).
stop_xc() {
	local i
	kill -TERM "$XC_PID" 2>/dev/null || true
	for ((i = 0; i < 60; i++)); do
		kill -0 "$XC_PID" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$XC_PID" 2>/dev/null || true
	wait "$XC_PID" 2>/dev/null || true
}

# wait_listen PORT [NSENTER-PREFIX...]: until something listens on PORT.
wait_listen() {
	local port=$1 i
	shift
	for ((i = 0; i < 100; i++)); do
		if [[ -n $("$@" ss -Hltn "sport = :$port") ]]; then return 0; fi
		kill -0 "$XC_PID" 2>/dev/null || fail "pv-xconnect died"
		sleep 0.05
	done
	fail "nothing listens on :$port after 5 s"
}

# status_field LINK FIELD: a counter of the link from the status socket.
status_field() {
	curl -sS --max-time 10 --unix-socket "$XC_STATUS" http://x/links |
		"$PY" -c 'import json,sys
for l in json.load(sys.stdin):
    if l.get("name") == sys.argv[1]:
        print(l.get(sys.argv[2], "")); break' "$1" "$2"
}

# proc_field PID FIELD: a line of /proc/PID/status, value in kB.
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID: utime + stime from /proc/PID/stat.
cpu_ticks() {
	local stat
	stat=$(<"/proc/$1/stat")
	stat=${stat##*) }
	local -a f
	read -r -a f <<<"$stat"
	echo $((f[11] + f[12]))
}
