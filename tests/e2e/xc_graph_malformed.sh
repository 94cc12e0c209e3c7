#!/usr/bin/env bash
# Issue 3, "Done when" 9: malformed graphs (not JSON, not an array, entries
# not objects, missing fields, wrong types, port 0 or 70000, unparsable
# addresses, relative or ".." socket paths, negative pids, duplicate
# links) are refused with a log line each, and the running link keeps
# proxying to its old backend. Each bad graph also moves the good link to
# another backend: that change must not be applied either.
# shellcheck source=tests/e2e/lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

answer_is() { [[ $(ask "$1" "$2") == "$3" ]]; }

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
KEEP=$(link_json keep "127.0.0.1:$P1" "$BA")
MOVED=$(link_json keep "127.0.0.1:$P1" "$BB")
write_graph "$KEEP"
start_xc
wait_listen "$P1"
answer_is "127.0.0.1:$P1" hi A:hi || fail "keep: no answer from backend A"

# field NAME VALUE: link "bad" on a port of its own with one field replaced
# (VALUE is raw JSON; "DROP" removes the field).
BADPORT=$(freeport)
bad_link() {
	"$PY" - "$1" "$2" "$(link_json bad "127.0.0.1:$BADPORT" "$BA")" <<'PY'
import json, sys
o = json.loads(sys.argv[3])
if sys.argv[2] == "DROP":
    del o[sys.argv[1]]
else:
    o[sys.argv[1]] = json.loads(sys.argv[2])
print(json.dumps(o))
PY
}

refusals_above() { (($(grep -c 'graph refused (' "$TMP/xc.log") > $1)); }
last_reason_is() {
	grep 'graph refused: ' "$TMP/xc.log" | tail -1 | grep -qF -- "graph refused: $1"
}

# Each case: the graph text, then the reason the log must show.
CASES=(
	'{"links": [' "graph: line 2 column 0: ']' expected"
	'not json at all' "graph: line 1 column 3: invalid token near 'not'"
	'{"keep": 1}' 'graph: expected a JSON array'
	'"[]"' 'graph: expected a JSON array'
	"[$MOVED, 42]" 'graph[1]: expected an object'
	"[$MOVED, $(bad_link socket DROP)]" 'graph[1].socket: missing'
	"[$MOVED, $(bad_link consumer_pid DROP)]" 'graph[1].consumer_pid: missing'
	"[$MOVED, $(bad_link name 7)]" 'graph[1].name: expected a string'
	"[$MOVED, $(bad_link consumer_pid -1)]" 'graph[1].consumer_pid: -1 is not a valid pid'
	"[$MOVED, $(bad_link provider_pid '"12"')]" 'graph[1].provider_pid: expected an integer'
	"[$MOVED, $(bad_link target '"127.0.0.1:0"')]" 'graph[1].target: port 0 out of range (1-65535)'
	"[$MOVED, $(bad_link target '"127.0.0.1:70000"')]" 'graph[1].target: port 70000 out of range (1-65535)'
	"[$MOVED, $(bad_link socket '"127.0.0.1:70000"')]" 'graph[1].socket: port 70000 out of range (1-65535)'
	"[$MOVED, $(bad_link socket '"10.0.4.300:80"')]" "graph[1].socket: '10.0.4.300:80': invalid IPv4 address"
	"[$MOVED, $(bad_link target '"localhost:80"')]" "graph[1].target: 'localhost:80': invalid IPv4 address"
	"[$MOVED, $(bad_link socket '"[fd00::1:80"')]" "graph[1].socket: '[fd00::1:80': missing ']'"
	"[$MOVED, $(bad_link socket '"run/nginx.sock"')]" "graph[1].socket: 'run/nginx.sock' is not an absolute path"
	"[$MOVED, $(bad_link socket '"/run/../etc/x.sock"')]" "graph[1].socket: '/run/../etc/x.sock' contains a '..' component"
	"[$MOVED, $MOVED]" 'graph[1]: duplicate link'
	"[$MOVED, $(bad_link proxy_protocol '"v3"')]" 'graph[1].proxy_protocol: expected "v1" or "v2"'
	"[$MOVED, $(bad_link allow '["127.0.0.1/32", "10.0.0.0/33"]')]" "graph[1].allow[1]: '10.0.0.0/33': prefix length 33 out of range (0-32)"
	"[$MOVED, $(bad_link max_conns -1)]" 'graph[1].max_conns: -1 out of range (1-1000000)'
	"[$MOVED, $(bad_link connect_timeout_ms 0)]" 'graph[1].connect_timeout_ms: 0 out of range (1-600000)'
)
nbad=0
for ((i = 0; i < ${#CASES[@]}; i += 2)); do
	text=${CASES[i]} want=${CASES[i + 1]}
	printf '%s\n' "$text" >"$TMP/graph.json.tmp"
	mv "$TMP/graph.json.tmp" "$TMP/graph.json"
	# Wait for this graph's refusal (two cases share a reason).
	until_ms 2000 refusals_above "$nbad" >/dev/null ||
		fail "case $((i / 2)): not refused: $text"
	nbad=$((nbad + 1))
	until_ms 1000 last_reason_is "$want" >/dev/null ||
		fail "case $((i / 2)): last refusal is not 'graph refused: $want' for: $text"
	answer_is "127.0.0.1:$P1" x A:x ||
		fail "case $((i / 2)) ($want): the running link changed or stopped"
	refused "$BADPORT" || fail "case $((i / 2)): part of a refused graph was applied"
done
n=$(grep -c 'graph refused (' "$TMP/xc.log" || true)
((n == nbad)) || fail "$n refusals logged for $nbad bad graphs (each once)"
[[ $(status_field keep state) == listening ]] || fail "status: keep not listening"
log "$nbad malformed graphs refused, each with its reason; link untouched"

# The same bad graph again (SIGHUP) is refused again, still harmless.
kill -HUP "$XC_PID"
until_ms 2000 refusals_above "$n" >/dev/null ||
	fail "SIGHUP did not re-read the graph file"

# A good graph after all that is applied.
write_graph "$MOVED"
until_ms 2000 answer_is "127.0.0.1:$P1" y B:y >/dev/null ||
	fail "a good graph after the bad ones was not applied"
log "the next good graph was applied"
