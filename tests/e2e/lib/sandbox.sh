# shellcheck shell=bash
# Sandbox harness sourced by every pvx end-to-end test and by scripts/demo:
# a "device" network namespace with no uplink, processes recorded by PID,
# and a cleanup that leaves nothing behind (docs/testing.md). A layer on
# core.sh, which holds the process list, waits, failure helpers and the
# EXIT trap; this file adds namespaces, the root-netns check and pvx.
#
# Usage (the script runs as root; ctest sets PVX_BIN and PVX_SRC):
#   . "$(dirname "$0")/lib/sandbox.sh"
#   sb_init t11              # prefix "pvxt11-", temp dir, lock, traps
#   sb_device                # netns "pvxt11-dev": lo up, no route out
#   sb_pvx_up "$PVX_SRC/examples/ingress-hybrid"   # pv-ctrld + pv-xconnect
#   sb_wait_for "nginx-http has a socket" 20 sb_graph_has nginx-http socket
#   body=$(sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:80/)
#   sb_pass "seed test 11"   # optional; the EXIT trap cleans up in any case
#
# Set-up
#   sb_init ID              ID: 1-6 of [a-z0-9]. Sets SB_PREFIX="pvxID-",
#                           SB_TMP (mktemp -d under /var/tmp, not /tmp:
#                           containers get a private /tmp), SB_CTRL (control socket path),
#                           SB_STATE (--state-dir), PVX_BIN, PVX_SRC; takes a
#                           lock per ID, removes leftovers of a crashed run
#                           with the same ID, installs the EXIT/INT/TERM trap,
#                           snapshots the root netns (10.x addrs/routes),
#                           starts a watchdog that SIGTERMs the test after
#                           SB_DEADLINE seconds (150: a failure guard that
#                           a loaded machine does not reach, under ctest's
#                           180 s), so that it cleans up before ctest's
#                           timeout would SIGKILL it.
#   sb_netns NAME           creates netns "${SB_PREFIX}NAME" with lo up.
#   sb_device               sb_netns dev; SB_DEV=its name. Never gets a
#                           default route or an interface leading outside.
# Running things
#   sb_in NS CMD...         runs CMD in netns NS (ip netns exec).
#   sb_dev_exec CMD...      sb_in "$SB_DEV" CMD...
#   sb_spawn NAME CMD...    starts CMD in the background, output to
#                           $SB_TMP/NAME.log, records "NAME PID STARTTIME";
#                           sets SB_LAST_PID. Do not call inside $(...).
#                           CMD must exec its program (ip netns exec,
#                           unshare, nsenter, env do): the PID stays that of
#                           the program. sb_in/sb_dev_exec are accepted.
#   sb_record NAME PID      records a PID the test learned (e.g. a container
#                           pid from the graph): cleanup kills it if alive.
#   sb_pid NAME             prints the recorded PID of NAME.
#   sb_alive PID [START]    true while PID lives (and has that start time).
#   sb_stop NAME [GRACE_S]  SIGTERM, wait up to GRACE_S (5), then SIGKILL;
#                           returns the exit status when NAME was our child.
#   sb_wait_for DESC TMO_S CMD...  polls CMD (in a subshell, quiet) every
#                           0.1 s until it succeeds; sb_fail after TMO_S.
#   sb_netns_private PID    true once PID's netns differs from ours (the
#                           `unshare --net` race: wait for this before
#                           handing the PID to anything).
#   sb_netns_own PID [NS...]  true once PID's netns is neither ours nor
#                           one of the named NS: use it for a process started
#                           as `sb_dev_exec unshare --net …` (it passes
#                           through the root and the device netns first).
#   sb_netns_of PID         prints PID's netns id ("net:[4026...]").
#   sb_netns_id NS          the same for the named netns NS.
# Checks
#   sb_listen_pids NS PORT  PIDs owning a TCP listener on PORT in netns NS
#                           (NS "-" = root; "pid:N" = the netns of PID N);
#                           fails when there is none.
#   sb_assert_root_clean    fails if the root netns gained a 10.x address or
#                           route since sb_init, holds a link named
#                           ${SB_PREFIX}*, or a recorded PID has a socket in
#                           it. Also run by the cleanup.
#   sb_log MSG / sb_step TITLE / sb_ok MSG / sb_fail MSG (exit 1) / sb_pass
#   SB_CURL                 curl argv: no proxy, 5 s timeout, fail on error.
# pvx helpers (binaries from $PVX_BIN, private socket and state dir)
#   sb_pvx_up STATE [ARGS]  spawns "ctrld" (pv-ctrld --state STATE --ctrl
#                           $SB_CTRL --state-dir $SB_STATE ARGS) and "xconnect"
#                           (pv-xconnect --ctrl $SB_CTRL) in the device, and
#                           waits for the control socket.
#   sb_api METHOD PATH [BODY]  HTTP on the control socket (curl
#                           --unix-socket), body on stdout; fails on >= 400.
#   sb_graph                prints the graph JSON.
#   sb_graph_get NAME FIELD prints FIELD of the (first) link named NAME.
#   sb_graph_has NAME FIELD true when that field is non-empty and not 0.
#   sb_container_get NAME FIELD  FIELD of container NAME in GET /containers.
#   sb_json EXPR            reads JSON on stdin, prints python EXPR of `j`.
#   sb_pvx_wait_ingress LINK CONTAINER PORT [TMO]  waits until CONTAINER
#                           runs, LINK has a socket and provider_pid, the
#                           backend port listens in the provider's netns and
#                           pv-xconnect listens on PORT; sets SB_PROVIDER_PID.
# Cleanup (trap on EXIT, INT, TERM; also after a failure):
#   1. recorded PIDs get SIGTERM in reverse start order (SIGKILL after the
#      grace), after their descendant tree was noted; survivors of that tree,
#      any process carrying our PVX_SB_TOKEN in its environment and any
#      process whose cwd is inside SB_TMP are killed (all by PID, the start
#      time checked against PID reuse);
#   2. processes left in our named namespaces are killed, the namespaces
#      deleted (with them the bridges and veths inside);
#   3. on failure the logs in SB_TMP are printed; SB_TMP is removed
#      (kept when SB_KEEP=1);
#   4. sb_assert_root_clean; a dirty root netns turns the exit status to 1.
# shellcheck disable=SC2034 # SB_* globals are for the sourcing scripts
# shellcheck source=tests/e2e/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/core.sh"

SB_CURL=(curl -sS --noproxy '*' --max-time 5 --fail)
SB_ID="" SB_PREFIX="" SB_TMP="" SB_DEV="" SB_CTRL="" SB_STATE="" SB_ROOT_SNAP=""

# ---------------------------------------------------------------- netns
sb_netns_of() { readlink "/proc/$1/ns/net"; }
sb_netns_private() {
	local ns
	ns=$(sb_netns_of "$1") || return 1
	[[ $ns != "$(readlink /proc/self/ns/net)" ]]
}

# The netns id of a named netns, in the form of sb_netns_of.
sb_netns_id() {
	local ino
	ino=$(stat -L -c %i "/run/netns/$1") || return 1
	printf 'net:[%s]\n' "$ino"
}

# True once PID is in a netns of its own: neither ours nor one of the
# named namespaces given (e.g. the device it was started in).
sb_netns_own() {
	local pid=$1 ns cur
	shift
	cur=$(sb_netns_of "$pid") || return 1
	[[ $cur != "$(readlink /proc/self/ns/net)" ]] || return 1
	for ns in "$@"; do
		[[ $cur != "$(sb_netns_id "$ns")" ]] || return 1
	done
}

sb_netns() {
	local ns=$SB_PREFIX$1
	ip netns add "$ns" || sb_fail "ip netns add $ns"
	ip -n "$ns" link set lo up
}

sb_device() {
	sb_netns dev
	SB_DEV=${SB_PREFIX}dev
	[[ -z $(ip -n "$SB_DEV" route show default) ]] ||
		sb_fail "$SB_DEV has a default route"
	sb_log "device netns $SB_DEV: lo up, no uplink, no default route"
}

sb_in() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}
sb_dev_exec() { ip netns exec "$SB_DEV" "$@"; }

# Runs CMD in the netns named by NS: "-" root, "pid:N" that of PID N, else a
# named netns.
sb_ns_run() {
	local ns=$1
	shift
	case $ns in
	-) "$@" ;;
	pid:*) nsenter --net="/proc/${ns#pid:}/ns/net" "$@" ;;
	*) ip netns exec "$ns" "$@" ;;
	esac
}

sb_listen_pids() {
	local out
	out=$(sb_ns_run "$1" ss -Hltnp "sport = :$2" | grep -o 'pid=[0-9]*' |
		cut -d= -f2 | sort -u) || true
	[[ -n $out ]] || return 1
	printf '%s\n' "$out"
}

# ---------------------------------------------------------------- root check
# Only what can be ours is looked at: 10.x state that was not there at
# sb_init, links named with our prefix, sockets of our recorded PIDs.
sb_root_10x() {
	{
		ip -4 -o addr show | awk '{ print "addr", $2, $4 }'
		ip -4 route show table all | sed 's/ expires [^ ]*//'
	} | grep -E '(^|[^0-9.])10\.[0-9]+\.[0-9]+\.[0-9]+' | sed 's/ \+/ /g' |
		sort || true
}

sb_assert_root_clean() {
	local bad
	bad=$(comm -13 <(printf '%s\n' "$SB_ROOT_SNAP") <(sb_root_10x) |
		grep . || true)
	[[ -z $bad ]] || {
		sb_log "FAIL root netns gained a 10.x address/route: $bad"
		return 1
	}
	bad=$(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' |
		grep -F -- "$SB_PREFIX" || true)
	[[ -z $bad ]] || {
		sb_log "FAIL root netns has our link(s): $bad"
		return 1
	}
	sb_root_sockets_check
}

# No recorded live process has a TCP/UDP socket in the root netns.
sb_root_sockets_check() {
	local name pid st socks
	[[ -s $SB_TMP/pids ]] || return 0
	socks=$(ss -Htuanp 2>/dev/null || true)
	while read -r name pid st; do
		sb_alive "$pid" "$st" || continue
		if grep -q "pid=$pid," <<<"$socks"; then
			sb_log "FAIL $name (pid $pid) has a socket in the root netns:"
			grep "pid=$pid," <<<"$socks" >&2
			return 1
		fi
	done <"$SB_TMP/pids"
	return 0
}

# ---------------------------------------------------------------- cleanup
sb_our_netns() {
	ip netns list 2>/dev/null | awk -v p="$SB_PREFIX" \
		'index($1, p) == 1 { print $1 }'
}

# Processes that escaped the recorded tree (e.g. re-parented after a
# daemon died): those whose environment carries our token, and those whose
# working directory is inside SB_TMP (process containers run in the
# directory of their state source, which the tests copy there).
sb_token_pids() {
	# One python instead of two forks per process of the machine.
	"$SB_PY" - "$PVX_SB_TOKEN" "$SB_TMP" "$$" "$BASHPID" <<'PY'
import os, sys
token = b"PVX_SB_TOKEN=" + sys.argv[1].encode()
tmp, skip = sys.argv[2], set(sys.argv[3:]) | {str(os.getpid())}
for pid in filter(str.isdigit, os.listdir("/proc")):
    if pid in skip:
        continue
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
        with open(f"/proc/{pid}/environ", "rb") as f:
            env = f.read().split(b"\0")
        with open(f"/proc/{pid}/stat") as f:
            st = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if st[0] == "Z":
        continue
    if cwd == tmp or cwd.startswith(tmp + "/") or token in env:
        print(f"{pid}:{st[19]}")
PY
}

sb_sweep_netns() {
	local ns pid
	local -a v
	for ns in $(sb_our_netns); do
		v=()
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			sb_log "sweeping pid $pid ($(cat "/proc/$pid/comm" 2>/dev/null)) left in $ns"
			v+=("$pid:$(sb_starttime "$pid" || echo 0)")
		done
		sb_kill_entries 3 "${v[@]}"
		ip netns del "$ns" 2>/dev/null || sb_log "WARN cannot delete netns $ns"
	done
}

# Cleanup hooks run by the core's sb_cleanup (tests/e2e/lib/core.sh).
# Before the processes end: sockets first, once they are gone there is
# nothing to see.
sb_pre_cleanup() { sb_root_sockets_check; }
# After: strays, namespaces, and the root netns must be as it was.
sb_post_cleanup() {
	local -a strays=()
	mapfile -t strays < <(sb_token_pids)
	if ((${#strays[@]})); then
		sb_log "killing ${#strays[@]} stray process(es) of ours: ${strays[*]}"
		sb_kill_entries 3 "${strays[@]}"
	fi
	sb_sweep_netns
	sb_assert_root_clean
}

# ---------------------------------------------------------------- init
sb_init() {
	local id=$1 tool lock here
	[[ $id =~ ^[a-z0-9]{1,6}$ ]] || {
		echo "sb_init: bad id '$id'" >&2
		exit 2
	}
	((EUID == 0)) || {
		echo "SKIP/FAIL: must run as root" >&2
		exit 1
	}
	for tool in ip ss nsenter unshare curl ps flock "$SB_PY"; do
		command -v "$tool" >/dev/null || {
			echo "FAIL: missing tool $tool" >&2
			exit 1
		}
	done
	SB_ID=$id
	SB_PREFIX=pvx$id-
	here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
	PVX_SRC=${PVX_SRC:-$(cd "$here/../../.." && pwd)}
	PVX_BIN=${PVX_BIN:-$PVX_SRC/build/bin}
	export PVX_SRC PVX_BIN
	# One run per ID at a time; fd 9 is closed in every spawned child.
	lock=/run/lock/pvx-sandbox-$id.lock
	[[ -d /run/lock ]] || lock=/tmp/pvx-sandbox-$id.lock
	exec 9>"$lock"
	flock -w "${SB_LOCK_WAIT:-30}" 9 || {
		echo "FAIL: another run with sandbox id '$id' holds $lock" >&2
		exit 1
	}
	# Not under /tmp: process containers get a private /tmp, and the
	# state sources the tests copy here must stay visible to them.
	SB_TMP=$(mktemp -d "${SB_TMPBASE:-/var/tmp}/pvx$id.XXXXXX")
	chmod 755 "$SB_TMP"
	SB_CTRL=$SB_TMP/pv-ctrl
	SB_STATE=$SB_TMP/state
	mkdir -p "$SB_STATE"
	PVX_SB_TOKEN=$SB_PREFIX$$-$(sb_starttime $$)
	export PVX_SB_TOKEN
	SB_ROOT_SNAP=$(sb_root_10x)
	SB_PRE_HOOKS=(sb_pre_cleanup)
	SB_POST_HOOKS=(sb_post_cleanup)
	sb_core_start "$SB_TMP"
	# A test that hangs is stopped by SIGTERM (so it still cleans up)
	# before ctest's timeout would SIGKILL it.
	sb_watchdog "${SB_DEADLINE:-150}"
	# Temp dirs of a run of this id that was killed before its cleanup.
	for here in "${SB_TMPBASE:-/var/tmp}/pvx$id".*; do
		[[ -d $here && $here != "$SB_TMP" ]] || continue
		sb_log "removing the temp dir of an earlier run: $here"
		rm -rf -- "$here"
	done
	if [[ -n $(sb_our_netns) ]]; then
		sb_log "removing leftovers of an earlier run: $(sb_our_netns | paste -sd' ')"
		sb_sweep_netns
	fi
	sb_log "sandbox $SB_PREFIX: tmp $SB_TMP"
}

# ---------------------------------------------------------------- pvx
sb_json() {
	"$SB_PY" -c 'import json, sys
j = json.load(sys.stdin)
v = eval(sys.argv[1])
if isinstance(v, (dict, list)):
    print(json.dumps(v, indent=2, sort_keys=True))
elif v is not None:
    print(v)' "$1"
}

sb_api() {
	local method=$1 path=$2 body=${3:-} out code
	local -a data=()
	[[ -z $body ]] || data=(-H 'Content-Type: application/json' --data-binary "$body")
	out=$(curl -sS --max-time 10 --unix-socket "$SB_CTRL" -X "$method" \
		"${data[@]}" -w '\n%{http_code}' "http://localhost$path") || return 1
	code=${out##*$'\n'}
	printf '%s\n' "${out%$'\n'*}"
	[[ $code =~ ^[23] ]]
}

sb_graph() { sb_api GET /xconnect-graph; }
sb_graph_get() {
	sb_graph | sb_json "next((l.get('$2') for l in j if l.get('name') == '$1'), None)"
}
sb_graph_has() {
	local v
	v=$(sb_graph_get "$1" "$2") || return 1
	[[ -n $v && $v != 0 ]]
}
sb_container_get() {
	sb_api GET /containers | sb_json "next((c.get('$2') for c in (j if isinstance(j, list) else j.get('containers', [])) if c.get('name') == '$1'), None)"
}

sb_pvx_up() {
	local state=$1 b
	shift
	for b in pv-ctrld pv-xconnect; do
		[[ -x $PVX_BIN/$b ]] || sb_fail "$PVX_BIN/$b not built"
	done
	[[ -n $SB_DEV ]] || sb_device
	sb_spawn ctrld ip netns exec "$SB_DEV" "$PVX_BIN/pv-ctrld" --state "$state" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE" "$@"
	sb_wait_for "control socket $SB_CTRL" 10 test -S "$SB_CTRL"
	sb_spawn xconnect ip netns exec "$SB_DEV" "$PVX_BIN/pv-xconnect" \
		--ctrl "$SB_CTRL" --status "$SB_TMP/xc.sock"
}

# sb_pvx_wait_ingress LINK CONTAINER PORT [TMO_S]: waits until CONTAINER
# runs, the graph's LINK has a socket and a provider_pid, something listens
# on the backend port (from the socket) in the provider's netns and
# pv-xconnect listens on PORT in the device. Sets SB_PROVIDER_PID and
# records it as "provider-CONTAINER".
sb_pvx_wait_ingress() {
	local link=$1 ct=$2 port=$3 tmo=${4:-20} sock
	sb_wait_for "container $ct running" "$tmo" \
		eval '[[ $(sb_container_get "$ct" status) == running ]]'
	sb_wait_for "graph link $link with a socket" "$tmo" sb_graph_has "$link" socket
	sb_wait_for "graph link $link with a provider_pid" "$tmo" \
		sb_graph_has "$link" provider_pid
	SB_PROVIDER_PID=$(sb_graph_get "$link" provider_pid)
	sock=$(sb_graph_get "$link" socket)
	sb_record "provider-$ct" "$SB_PROVIDER_PID"
	sb_wait_for "$ct listening on ${sock##*:} in its netns (pid $SB_PROVIDER_PID)" \
		"$tmo" sb_listen_pids "pid:$SB_PROVIDER_PID" "${sock##*:}"
	sb_wait_for "pv-xconnect listening on :$port in the device" "$tmo" \
		eval '[[ -n $(sb_listen_pids "$SB_DEV" "$port") ]]'
}
