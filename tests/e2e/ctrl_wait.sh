#!/usr/bin/env bash
# Issue 2, done-when 4: GET /xconnect-graph?wait=<etag> is held while the
# graph is unchanged, is woken by a change (a PID adopted) with the new
# graph, answers 304 after the wait timeout, drops clients that hang up,
# and is not cut by the 10 s idle timeout of the control socket.
# Behaviour only: no upper bound on any delay (docs/testing.md).
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid
CT=example-nginx-ingress
start_ctrld "$EX" --wait-timeout 1 -v

# start_waiter TAG ETAG: a background long-poll; $T/TAG.done appears
# when it ends.
start_waiter() {
	(
		curl -sS --max-time 30 --unix-socket "$SOCK" -D "$T/$1.hdr" \
			-o "$T/$1.body" "http://pvx/xconnect-graph?wait=$2" ||
			true
		: >"$T/$1.done"
	) &
	OWN_PIDS+=($!)
	eval "WAITER_$1=$!"
}

E0=$(etag_now)
[[ $E0 =~ ^\"[0-9a-f]{16}\"$ ]] || fail "ETag '$E0' is not a quoted hash"

# A stale ETag is not held: it answers with the current graph (a held
# request would end in a 304 at the timeout).
code=$(status_of "http://pvx/xconnect-graph?wait=%220000000000000000%22")
[[ $code == 200 ]] || fail "stale ETag: HTTP $code"
ok "stale ETag: answered with the graph, not held"

# Nothing changes: 304 with the same ETag after the 1 s timeout.
t0=$(now_ms)
api -D "$T/h304" -o "$T/b304" "http://pvx/xconnect-graph?wait=${E0//\"/}"
dt=$(($(now_ms) - t0))
grep -q '^HTTP/1.1 304' "$T/h304" || fail "timeout: $(head -1 "$T/h304")"
grep -qi "^etag: $E0" "$T/h304" || fail "304 without the ETag"
[[ ! -s $T/b304 ]] || fail "304 with a body"
# Held until the timeout: a lower bound only, load cannot break it.
((dt >= 900)) || fail "304 after $dt ms, before the 1 s wait timeout"
ok "unchanged (unquoted ETag): 304 after the timeout ($dt ms)"

# The rest runs with a wait timeout long enough that no waiter ends in a
# 304 before the change it waits for, however loaded the machine.
stop_ctrld
start_ctrld "$EX" --wait-timeout 25 -v
E0=$(etag_now)

# A change while five clients wait: all are woken with the new graph.
sleep 60 &
SLEEPER=$!
OWN_PIDS+=("$SLEEPER")
for i in 1 2 3 4 5; do start_waiter "w$i" "%22${E0//\"/}%22"; done
sleep 0.3
for i in 1 2 3 4 5; do
	[[ ! -e $T/w$i.done ]] || fail "waiter $i answered before any change"
done
code=$(status_of -X PUT -d "{\"pid\": $SLEEPER}" "http://pvx/containers/$CT")
[[ $code == 200 ]] || fail "adopt: HTTP $code $(cat "$T/body")"
for i in 1 2 3 4 5; do
	eval "wait \$WAITER_w$i" || true
	grep -q '^HTTP/1.1 200' "$T/w$i.hdr" || fail "waiter $i: $(head -1 "$T/w$i.hdr")"
	E=$(tr -d '\r' <"$T/w$i.hdr" | awk 'tolower($1) == "etag:" {print $2}')
	[[ -n $E && $E != "$E0" ]] || fail "waiter $i: ETag '$E' (old $E0)"
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
ok "adopt: 5 waiters woken with the new graph"

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
sb_wait_for "the hang-up noticed" 20 grep -q "long-poll client hung up" "$LOG"
alive "after a waiter hung up"
[[ $(status_of http://pvx/xconnect-graph) == 200 ]] || fail "GET after hang-up"
ok "a waiter that hangs up is dropped"

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
api -D "$T/hlong" -o /dev/null --max-time 40 "http://pvx/xconnect-graph?wait=$E3" ||
	fail "long wait cut: $(cat "$T/hlong")"
dt=$(($(now_ms) - t0))
# A 304 is the answer at the wait timeout: the idle timeout did not cut it.
grep -q '^HTTP/1.1 304' "$T/hlong" || fail "long wait: $(head -1 "$T/hlong")"
((dt >= 11500)) || fail "long wait ended after $dt ms, before its 12 s"
ok "a 12 s long-poll is not cut by the 10 s idle timeout ($dt ms)"
stop_ctrld
