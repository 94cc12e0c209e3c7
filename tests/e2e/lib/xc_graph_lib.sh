# shellcheck shell=bash
# Shared part of the xc_graph_* end-to-end tests (sourced): graph changes
# seen by a running pv-xconnect. Builds on xc_tcp_lib.sh (private network
# namespace, PID bookkeeping, cleanup trap, peers) and adds a graph server,
# backends that tag their answers, and one-line probes.
# shellcheck source=tests/e2e/lib/xc_tcp_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xc_tcp_lib.sh"

GRAPHSRV="$PVX_SRC/tests/e2e/lib/graphsrv.py"

cat >"$TMP/tagecho.py" <<'PY'
# tagecho.py TAG ADDR: answers every line with "TAG:line" (tells which
# backend a connection reached).
import socket, sys, threading
tag, addr = sys.argv[1], sys.argv[2]
host, _, port = addr.rpartition(":")
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, int(port)))
ls.listen(64)
print(f"READY {ls.getsockname()[1]}", flush=True)
def serve(c):
    with c, c.makefile("rwb") as f:
        for line in f:
            f.write(tag.encode() + b":" + line)
            f.flush()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY

cat >"$TMP/session.py" <<'PY'
# session.py ADDR GOFILE: one connection; "first" is asked at once, then
# "second" once GOFILE exists (within 20 s); prints both answers.
import os, socket, sys, time
host, _, port = sys.argv[1].rpartition(":")
s = socket.create_connection((host, int(port)), timeout=20)
f = s.makefile("rwb")
f.write(b"first\n"); f.flush()
print(f.readline().decode().strip(), flush=True)
end = time.monotonic() + 20
while not os.path.exists(sys.argv[2]) and time.monotonic() < end:
    time.sleep(0.02)
f.write(b"second\n"); f.flush()
print(f.readline().decode().strip(), flush=True)
PY

# tag_backend NAME TAG: a tagecho server on a free loopback port; sets READY.
tag_backend() {
	spawn "$1" "$PY" -u "$TMP/tagecho.py" "$2" 127.0.0.1:0
	wait_ready "$1" "$SPAWNED"
}

# start_graphsrv MODE [ARGS...]: the graph server on $TMP/ctl.sock serving
# $TMP/graph.json; sets SRV_PID.
start_graphsrv() {
	local mode=$1
	shift
	rm -f "$TMP/ctl.sock"
	spawn graphsrv "$PY" -u "$GRAPHSRV" --socket "$TMP/ctl.sock" \
		--graph "$TMP/graph.json" --mode "$mode" "$@"
	SRV_PID=$SPAWNED
	wait_ready graphsrv "$SRV_PID"
}

# start_xc_ctrl [ARGS...]: pv-xconnect following $TMP/ctl.sock.
start_xc_ctrl() {
	"$PVX_BIN/pv-xconnect" --ctrl "$TMP/ctl.sock" --status "$TMP/status.sock" \
		-v --health-interval 0 "$@" </dev/null >"$TMP/xc.log" 2>&1 &
	XC_PID=$!
	PIDS+=("$XC_PID")
	sb_record xconnect "$XC_PID"
}

# ask ADDR WORD: one connection, one line; prints the answer ("" if none).
ask() {
	local host=${1%:*} port=${1##*:}
	"$PY" - "$host" "$port" "$2" <<'PY' 2>/dev/null || true
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
f = s.makefile("rwb")
f.write(sys.argv[3].encode() + b"\n"); f.flush()
print(f.readline().decode().strip())
PY
}

# refused PORT: whether a connection to 127.0.0.1:PORT is refused now.
refused() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# accepts PORT: whether something accepts on 127.0.0.1:PORT now.
accepts() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# now_ms: monotonic enough for sub-second checks.
now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }

# until_ms MS CMD...: polls CMD every 20 ms for up to MS; prints the time
# it took, fails (returns 1) on timeout.
until_ms() {
	local tmo=$1 t0 t
	shift
	t0=$(now_ms)
	while :; do
		if "$@"; then
			echo $(($(now_ms) - t0))
			return 0
		fi
		t=$(now_ms)
		((t - t0 < tmo)) || return 1
		sleep 0.02
	done
}

# log_has TEXT: whether pv-xconnect's log holds TEXT (fixed string).
log_has() { grep -qF -- "$1" "$TMP/xc.log"; }
