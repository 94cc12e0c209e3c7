# Shared helpers of the tests/e2e/ctrl_*.sh scripts: a private temp dir
# with its own control socket and state dir, pv-ctrld started with
# --no-runtime (no network changes, no processes), cleanup on every exit.
# Only Unix sockets are used: no address, route or namespace is touched.
# A thin layer on core.sh (process list, cleanup trap, failure helpers).
# shellcheck shell=bash
set -euo pipefail

: "${PVX_BIN:?PVX_BIN must point at the built binaries}"
: "${PVX_SRC:?PVX_SRC must point at the source tree}"

# shellcheck source=tests/e2e/lib/core.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/core.sh"

PY=$SB_PY
[[ -x $PY ]] || PY=$(command -v python3)
T=$(mktemp -d /tmp/pvxc.XXXXXX)
SOCK=$T/run/pv-ctrl
SDIR=$T/state
LOG=$T/ctrld.log
CTRLD=
# Bare PIDs tests may append to; the core's cleanup ends them too.
OWN_PIDS=()
SB_LOG_TAG=$(basename "$0" .sh)
SB_PID_ARRAYS=(OWN_PIDS)
SB_LOG_GLOBS=("$LOG")
sb_core_start "$T"

fail() { sb_fail "$@"; }

ok() { sb_ok "$@"; }

# start_ctrld STATE [extra pv-ctrld args…]: starts the daemon and waits
# (at most 5 s) until it answers.
start_ctrld() {
	local state=$1 i
	shift
	"$PVX_BIN/pv-ctrld" --state "$state" --ctrl "$SOCK" \
		--state-dir "$SDIR" --no-runtime "$@" 2>>"$LOG" &
	CTRLD=$!
	OWN_PIDS+=("$CTRLD")
	sb_record ctrld "$CTRLD"
	for ((i = 0; i < 100; i++)); do
		if [[ -S $SOCK ]] && curl -s -o /dev/null --max-time 2 \
			--unix-socket "$SOCK" http://pvx/xconnect-graph; then
			return 0
		fi
		kill -0 "$CTRLD" 2>/dev/null || fail "pv-ctrld exited at start"
		sleep 0.05
	done
	fail "pv-ctrld did not answer within 5 s"
}

# stop_ctrld: SIGTERM, expect exit 0 and the socket file gone.
stop_ctrld() {
	local rc=0
	kill -TERM "$CTRLD"
	wait "$CTRLD" || rc=$?
	[[ $rc == 0 ]] || fail "pv-ctrld exited $rc on SIGTERM"
	[[ ! -e $SOCK ]] || fail "socket file left behind after SIGTERM"
	CTRLD=
}

alive() {
	kill -0 "$CTRLD" 2>/dev/null || fail "pv-ctrld died ($*)"
}

# api ARGS…: curl on the control socket.
api() { curl -sS --max-time 10 --unix-socket "$SOCK" "$@"; }

# status_of ARGS…: the HTTP status of a request; its body goes to $T/body.
status_of() { api -o "$T/body" -w '%{http_code}' "$@"; }

# etag_now: the current ETag of the graph.
etag_now() {
	api -D - -o /dev/null http://pvx/xconnect-graph |
		tr -d '\r' | awk 'tolower($1) == "etag:" {print $2}'
}

# Lease helpers (ctrl_leases.sh, ctrl_lease_damage.sh); the state source
# is the ingress-hybrid example.
# gen OUT [NAME[=STATIC_IP]]…: the example's state.json plus external
# (lxc) pool containers.
gen() {
	"$PY" - "$PVX_SRC/examples/ingress-hybrid/state.json" "$@" <<'PY'
import json, sys
st = json.load(open(sys.argv[1]))
out = sys.argv[2]
for spec in sys.argv[3:]:
    name, _, ip = spec.partition("=")
    net = {"mode": "pool", "pool": "internal"}
    if ip:
        net["interfaces"] = [{"name": "eth0", "pool": "internal",
                              "ipv4_address": ip}]
    st[name + "/run.json"] = {"name": name, "type": "lxc", "network": net}
json.dump(st, open(out, "w"), indent=1)
PY
}

# leases_are "name=ip …": the lease file and GET /containers agree with
# exactly these addresses.
leases_are() {
	api http://pvx/containers >"$T/cts.json"
	"$PY" - "$SDIR/leases.json" "$T/cts.json" "$@" <<'PY' || fail "leases: want $*"
import json, sys
lf = json.load(open(sys.argv[1]))
cts = json.load(open(sys.argv[2]))
want = dict(s.split("=") for s in sys.argv[3:])
def find_leases(o):
    # The lease file's layout belongs to IPAM: look for objects naming
    # a container and an ip.
    if isinstance(o, dict):
        if "container" in o and ("ip" in o or "address" in o):
            yield o["container"], str(o.get("ip") or o.get("address")).split("/")[0]
        for v in o.values():
            yield from find_leases(v)
    elif isinstance(o, list):
        for v in o:
            yield from find_leases(v)
got = dict(find_leases(lf))
assert got == want, f"lease file {got} != {want}"
api = {c["name"]: c["addresses"][0]["address"].split("/")[0]
       for c in cts if c["addresses"]}
assert api == want, f"GET /containers {api} != {want}"
PY
}

pvcontrol() { "$PVX_BIN/pvcontrol" --ctrl "$SOCK" "$@"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
