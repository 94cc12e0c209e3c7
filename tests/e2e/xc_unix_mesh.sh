# examples/mesh-unix end to end: `pv-ctrld --check` plans the unix link;
# pv-ctrld (--no-runtime) serves the example with both containers adopted
# by PID (each a process with a private mount namespace and a tmpfs on
# /run); pv-xconnect following it creates /run/pvx/raw.sock inside app's
# namespace only, and a client there reaches provider's
# /run/example/raw.sock, which exists only inside provider's namespace.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

EX=$PVX_SRC/examples/mesh-unix
HOSTSOCK_BEFORE=$([[ -e /run/pvx/raw.sock ]] && echo yes || echo no)

"$PVX_BIN/pv-ctrld" --check "$EX" --state-dir "$TMP/chk" >"$TMP/check.json" 2>&1 ||
	fail "pv-ctrld --check $EX: $(cat "$TMP/check.json")"
"$PY" - "$TMP/check.json" <<'PYEOF' || fail "planned graph: $(cat "$TMP/check.json")"
import json, sys
g = json.load(open(sys.argv[1]))["graph"]
want = {"type": "unix", "name": "raw-unix", "consumer": "app",
        "provider": "provider", "target": "/run/pvx/raw.sock",
        "socket": "/run/example/raw.sock"}
assert len(g) == 1 and all(g[0][k] == v for k, v in want.items()), g
PYEOF

# container NAME CMD: a process in a private mount namespace with a tmpfs
# on /run (nothing of it reaches the host's /run); sets CPID once CMD runs.
container() {
	local name=$1 i
	spawn "$name" unshare --mount --propagation private sh -c \
		"mount -t tmpfs pvx-xcunix /run && $2"
	CPID=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		[[ $(readlink "/proc/$CPID/ns/mnt") != $(readlink /proc/self/ns/mnt) &&
			-d /proc/$CPID/root/run && $(cat "/proc/$CPID/comm" 2>/dev/null) != sh ]] && return 0
		kill -0 "$CPID" 2>/dev/null || fail "container $name died: $(cat "$TMP/$name.out")"
		sleep 0.05
	done
	fail "container $name not started in 5 s"
}
container provider "mkdir -p /run/example && exec $PY -u $PEERS echo /run/example/raw.sock"
PROV=$CPID
wait_ready provider
container app "exec sleep 60"
APP=$CPID
[[ -S /proc/$PROV/root/run/example/raw.sock ]] || fail "no provider socket in its namespace"

spawn ctrld "$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$TMP/ctl.sock" \
	--state-dir "$TMP/sd" --no-runtime --wait-timeout 5
CTRLD=$SPAWNED
# pv-ctrld goes first at exit: a container that dies later must not turn
# into consumer_pid 0 (a socket at the host's /run/pvx) on a live
# pv-xconnect.
trap 'rc=$?; kill -TERM "$CTRLD" 2>/dev/null; wait "$CTRLD" 2>/dev/null; (exit $rc); xc_cleanup' EXIT
api() { curl -sS --max-time 5 --unix-socket "$TMP/ctl.sock" "$@"; }
for ((i = 0; i < 100; i++)); do
	[[ -S $TMP/ctl.sock ]] && break
	sleep 0.05
done
api -X PUT -d "{\"pid\": $PROV}" http://x/containers/provider >"$TMP/put.out" ||
	fail "PUT provider: $(cat "$TMP/put.out")"
api -X PUT -d "{\"pid\": $APP}" http://x/containers/app >"$TMP/put.out" ||
	fail "PUT app: $(cat "$TMP/put.out")"
api http://x/xconnect-graph | grep -q "\"consumer_pid\": *$APP" ||
	fail "app's pid not in the graph: $(api http://x/xconnect-graph)"

# Only now, with both pids known: the link never has consumer_pid 0.
"${ORPHAN_GUARD[@]}" "$PVX_BIN/pv-xconnect" --ctrl "$TMP/ctl.sock" \
	--status "$TMP/status.sock" -v </dev/null >"$TMP/xc.log" 2>&1 &
XC_PID=$!
PIDS=("$XC_PID" "${PIDS[@]}")
wait_sock "/proc/$APP/root/run/pvx/raw.sock"
[[ $(status_field raw-unix consumer_pid) == "$APP" ]] || fail "link not for app's pid"

log "app's client on /run/pvx/raw.sock reaches provider's /run/example/raw.sock"
timeout 30 nsenter --mount="/proc/$APP/ns/mnt" "$PY" "$PEERS" client /run/pvx/raw.sock \
	--bytes $((1 << 20)) --conns 5 || fail "mesh round trip"
[[ $(status_field raw-unix accepted) -eq 5 ]] || fail "accepted $(status_field raw-unix accepted), want 5"

stop_xc
wait_gone "/proc/$APP/root/run/pvx/raw.sock" 1
[[ $HOSTSOCK_BEFORE == yes || ! -e /run/pvx/raw.sock ]] || fail "a socket appeared at the host's /run/pvx/raw.sock"
