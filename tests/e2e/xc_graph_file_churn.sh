#!/usr/bin/env bash
# pv-xconnect --graph-file: a graph file rewritten every few ms without a
# pause (a busy generator; the issue saw 12 ms) is still read and applied
# while the writes go on: the debounce waits for 30 ms of quiet, but never
# longer than 500 ms after the first change. Two successive contents are
# applied, each before the writer stops. So that a loaded machine opens no
# 30 ms gap between the writes (which would let the old code pass), the
# writer runs SCHED_FIFO (it sleeps 4 ms per write, bounded to 20 s) and
# the file lives on tmpfs (/dev/shm, removed at exit).
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)

SHM=$(mktemp -d /dev/shm/pvx-xc_graph_file_churn.XXXXXX)
trap 'rc=$?; rm -rf -- "$SHM"; (exit $rc); xc_cleanup' EXIT
G=$SHM/graph.json
printf '[%s]\n' "$(link_json web "127.0.0.1:$P1" "$BA")" >"$G"
"${ORPHAN_GUARD[@]}" "$PVX_BIN/pv-xconnect" --graph-file "$G" -v </dev/null >"$TMP/xc.log" 2>&1 &
XC_PID=$!
PIDS+=("$XC_PID")
until_ms 3000 answer_is "127.0.0.1:$P1" a A:a >/dev/null || fail "first graph not applied"

cat >"$TMP/churn.py" <<'PY'
# churn.py FILE CONTENT-FILE STOPFILE: replaces FILE (write, rename) with
# the text of CONTENT-FILE (read again each time) every 4 ms until
# STOPFILE exists or 20 s passed; prints DONE and the number of writes.
import os, sys, time
path, src, stop = sys.argv[1:4]
n = 0
end = time.monotonic() + 20
print("READY churn", flush=True)
while not os.path.exists(stop) and time.monotonic() < end:
    with open(src, "rb") as f:
        data = f.read()
    with open(path + ".churn", "wb") as f:
        f.write(data)
    os.rename(path + ".churn", path)
    n += 1
    time.sleep(0.004)
print("DONE", n, flush=True)
PY

printf '[%s]\n' "$(link_json web "127.0.0.1:$P1" "$BB")" >"$TMP/content.json"
spawn churn chrt -f 1 "$PY" -u "$TMP/churn.py" "$G" "$TMP/content.json" "$TMP/stop"
CHURN=$SPAWNED
wait_ready churn

writing() { kill -0 "$CHURN" 2>/dev/null && ! grep -q DONE "$TMP/churn.out"; }
applied_while_writing() { # ADDR WORD WANT
	local i
	for ((i = 0; i < 500; i++)); do
		writing || return 1
		answer_is "$@" && return 0
		sleep 0.02
	done
	return 1
}

log "rewritten every 4 ms: backend B applied while the writes go on"
applied_while_writing "127.0.0.1:$P1" b B:b || fail "graph not applied during the rewrites ($(cat "$TMP/churn.out"))"
writing || fail "the writer stopped before the check"
log "then backend A again, still during the rewrites"
printf '[%s]\n' "$(link_json web "127.0.0.1:$P1" "$BA")" >"$TMP/content.json.tmp"
mv "$TMP/content.json.tmp" "$TMP/content.json"
applied_while_writing "127.0.0.1:$P1" c A:c || fail "second content not applied during the rewrites"
touch "$TMP/stop"
wait "$CHURN" || true
log "writer: $(tail -n1 "$TMP/churn.out")"
n=$(grep -c "graph accepted" "$TMP/xc.log" || true)
((n >= 3)) || fail "graph accepted $n times, want at least 3"
kill -0 "$XC_PID" || fail "pv-xconnect died"
