#!/usr/bin/env bash
# Issue 2, done-when 4: GET /xconnect-graph?wait=<etag> is held while the
# graph is unchanged, answers within 100 ms of a change (a PID adopted),
# answers 304 after the wait timeout, drops clients that hang up, and is
# not cut by the 10 s idle timeout of the control socket.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid
CT=example-nginx-ingress
start_ctrld "$EX" --wait-timeout 1 -v

# start_waiter TAG ETAG: a background long-poll; when it ends, its end
# time (ms) goes to $T/TAG.done.
start_waiter() {
	(
		curl -sS --max-time 20 --unix-socket "$SOCK" -D "$T/$1.hdr" \
			-o "$T/$1.body" "http://pvx/xconnect-graph?wait=$2" ||
			true
		now_ms >"$T/$1.done"
	) &
	OWN_PIDS+=($!)
	eval "WAITER_$1=$!"
}

E0=$(etag_now)
[[ $E0 =~ ^\"[0-9a-f]{16}\"$ ]] || fail "ETag '$E0' is not a quoted hash"

# A stale ETag answers at once with the current graph.
t0=$(now_ms)
code=$(status_of "http://pvx/xconnect-graph?wait=%220000000000000000%22")
(($(now_ms) - t0 < 500)) || fail "stale ETag was held"
[[ $code == 200 ]] || fail "stale ETag: HTTP $code"
ok "stale ETag: answered at once"

# Nothing changes: 304 with the same ETag after the 1 s timeout.
t0=$(now_ms)
api -D "$T/h304" -o "$T/b304" "http://pvx/xconnect-graph?wait=${E0//\"/}"
dt=$(($(now_ms) - t0))
grep -q '^HTTP/1.1 304' "$T/h304" || fail "timeout: $(head -1 "$T/h304")"
grep -qi "^etag: $E0" "$T/h304" || fail "304 without the ETag"
[[ ! -s $T/b304 ]] || fail "304 with a body"
((dt >= 900 && dt < 3000)) || fail "304 after $dt ms, want ~1000"
ok "unchanged (unquoted ETag): 304 after $dt ms"

# A change while five clients wait: all answer within 100 ms of the PUT.
sleep 60 &
SLEEPER=$!
OWN_PIDS+=("$SLEEPER")
for i in 1 2 3 4 5; do start_waiter "w$i" "%22${E0//\"/}%22"; done
sleep 0.3
for i in 1 2 3 4 5; do
	[[ ! -e $T/w$i.done ]] || fail "waiter $i answered before any change"
done
t0=$(now_ms)
code=$(status_of -X PUT -d "{\"pid\": $SLEEPER}" "http://pvx/containers/$CT")
[[ $code == 200 ]] || fail "adopt: HTTP $code $(cat "$T/body")"
for i in 1 2 3 4 5; do
	eval "wait \$WAITER_w$i" || true
	t1=$(cat "$T/w$i.done")
	dt=$((t1 - t0))
	grep -q '^HTTP/1.1 200' "$T/w$i.hdr" || fail "waiter $i: $(head -1 "$T/w$i.hdr")"
	((dt < 100)) || fail "waiter $i answered $dt ms after the PUT"
done
E1=$(tr -d '\r' <"$T/w1.hdr" | awk 'tolower($1) == "etag:" {print $2}')
[[ -n $E1 && $E1 != "$E0" ]] || fail "new ETag '$E1' (old $E0)"
[[ $E1 == "$(etag_now)" ]] || fail "waiter ETag differs from GET"
"$PY" - "$T/w1.body" "$SLEEPER" <<'PY' || fail "new graph content"
import json, sys
g = json.load(open(sys.argv[1]))
l = [l for l in g if l["name"] == "nginx-http"][0]
assert l["provider_pid"] == int(sys.argv[2]), l
PY
ok "adopt: 5 waiters answered within 100 ms (last $dt ms) with the new graph"

# The adopted process exits: the graph changes again, waiters answer.
start_waiter x "$E1"
sleep 0.3
kill "$SLEEPER"
wait "$WAITER_x" || true
grep -q '^HTTP/1.1 200' "$T/x.hdr" || fail "exit not seen: $(head -1 "$T/x.hdr")"
"$PY" -c 'import json,sys; g=json.load(open(sys.argv[1])); assert all(l["provider_pid"]==0 for l in g), g' \
	"$T/x.body" || fail "pid still in the graph after exit"
ok "the adopted process exits: waiter answered, provider_pid 0"

# A client that hangs up while waiting is dropped; the daemon serves on.
E2=$(etag_now)
curl -s --max-time 0.3 --unix-socket "$SOCK" \
	"http://pvx/xconnect-graph?wait=$E2" >/dev/null 2>&1 || true
sleep 0.2
grep -q "long-poll client hung up" "$LOG" || fail "hang-up not noticed"
alive "after a waiter hung up"
[[ $(status_of http://pvx/xconnect-graph) == 200 ]] || fail "GET after hang-up"
ok "a waiter that hangs up is dropped at once"

# pvcontrol sees the same graph as the waiters.
pvcontrol --json graph ls >"$T/g.json" || fail "pvcontrol graph ls"
api http://pvx/xconnect-graph >"$T/g2.json"
"$PY" -c 'import json,sys; assert json.load(open(sys.argv[1]))==json.load(open(sys.argv[2]))' \
	"$T/g.json" "$T/g2.json" || fail "pvcontrol graph differs"

# SIGTERM while a request is held: clean exit 0 (no leak, no crash).
start_waiter y "$(etag_now)"
sleep 0.3
stop_ctrld
wait "$WAITER_y" || true
ok "SIGTERM with a held long-poll: exit 0, socket removed"

# A held long-poll outlives the 10 s idle timeout of the socket.
start_ctrld "$EX" --wait-timeout 12
E3=$(etag_now)
t0=$(now_ms)
api -D "$T/hlong" -o /dev/null --max-time 20 "http://pvx/xconnect-graph?wait=$E3" ||
	fail "long wait cut: $(cat "$T/hlong")"
dt=$(($(now_ms) - t0))
grep -q '^HTTP/1.1 304' "$T/hlong" || fail "long wait: $(head -1 "$T/hlong")"
((dt >= 11500)) || fail "long wait ended after $dt ms"
ok "a 12 s long-poll is not cut by the 10 s idle timeout ($dt ms)"
stop_ctrld
