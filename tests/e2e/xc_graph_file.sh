#!/usr/bin/env bash
# pv-xconnect --graph-file: the file may be missing at start, is reloaded
# when written in place, renamed over (editors, atomic writers), deleted
# and created again; a link whose port is taken is listed as failed and
# retried with backoff until it binds; the status socket is mode 0600;
# SIGUSR1 logs the counters; SIGTERM stops every link and exits 0.
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }
state_is() { [[ $(status_field "$1" state) == "$2" ]]; }

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
P2=$(freeport)

log "graph file missing at start"
start_xc
until_ms 3000 test -S "$TMP/status.sock" >/dev/null || fail "no status socket"
[[ $(stat -c %a "$TMP/status.sock") == 600 ]] ||
	fail "status socket mode $(stat -c %a "$TMP/status.sock"), want 600"
until_ms 1000 log_has "graph file $TMP/graph.json: No such file" >/dev/null ||
	fail "missing graph file not logged"
[[ $(curl -sS --unix-socket "$TMP/status.sock" http://x/links | tr -d ' \n') == "[]" ]] ||
	fail "links listed without a graph"

log "created by rename"
write_graph "$(link_json web "127.0.0.1:$P1" "$BA")"
ms=$(until_ms 2000 answer_is "127.0.0.1:$P1" a A:a) || fail "new graph file not loaded"
log "loaded after $ms ms"

log "written in place"
printf '[%s]\n' "$(link_json web "127.0.0.1:$P1" "$BB")" >"$TMP/graph.json"
ms=$(until_ms 2000 answer_is "127.0.0.1:$P1" b B:b) || fail "in-place write not seen"
log "in-place write applied after $ms ms"

log "editor style: write a temporary file, rename it over"
printf '[%s]\n' "$(link_json web "127.0.0.1:$P1" "$BA")" >"$TMP/.graph.json.swp"
mv "$TMP/.graph.json.swp" "$TMP/graph.json"
ms=$(until_ms 2000 answer_is "127.0.0.1:$P1" c A:c) || fail "rename-over not seen"
log "rename-over applied after $ms ms"

log "deleted: links kept; created again: applied"
rm "$TMP/graph.json"
sleep 0.3
answer_is "127.0.0.1:$P1" d A:d || fail "link stopped when the file was deleted"
write_graph "$(link_json web "127.0.0.1:$P1" "$BB")"
until_ms 2000 answer_is "127.0.0.1:$P1" e B:e >/dev/null || fail "re-created file not loaded"

log "a link whose port is taken fails, is retried, and binds once free"
spawn squatter "$PY" -u -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
print("READY", sys.argv[1], flush=True)
time.sleep(60)' "$P2"
SQUAT=$SPAWNED
wait_ready squatter "$SQUAT"
write_graph "$(link_json web "127.0.0.1:$P1" "$BB")" \
	"$(link_json taken "127.0.0.1:$P2" "$BA")"
until_ms 2000 state_is taken failed >/dev/null ||
	fail "taken: state $(status_field taken state), want failed"
[[ -n $(status_field taken error) ]] || fail "taken: no error in the status"
answer_is "127.0.0.1:$P1" f B:f || fail "web disturbed by the failing link"
kill -TERM "$SQUAT"
wait "$SQUAT" 2>/dev/null || true
ms=$(until_ms 5000 state_is taken listening) || fail "taken: not retried after the port was freed"
answer_is "127.0.0.1:$P2" g A:g || fail "taken: no answer after the retry"
log "taken: listening after a retry, $ms ms after the port was freed"
log_has "link added after retry type=tcp name=taken" || fail "no log line for the retry"

log "SIGUSR1 logs the counters"
kill -USR1 "$XC_PID"
until_ms 1000 log_has "link stats type=tcp name=taken" >/dev/null || fail "no counters on SIGUSR1"
grep -q "link stats type=tcp name=web .*state=listening accepted=[1-9]" "$TMP/xc.log" ||
	fail "web counters: $(grep 'link stats' "$TMP/xc.log")"

log "SIGTERM: every link stopped, exit 0"
kill -TERM "$XC_PID"
rc=0
wait "$XC_PID" || rc=$?
((rc == 0)) || fail "pv-xconnect exited $rc on SIGTERM"
refused "$P1" || fail "port $P1 still open after exit"
[[ ! -e $TMP/status.sock ]] || fail "status socket left behind"
