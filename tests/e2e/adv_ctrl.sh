#!/usr/bin/env bash
# Adversarial clients against pv-ctrld's control socket (issue 2, done-when
# 3 and 5, beyond ctrl_garbage.sh): slowloris while a GET still answers at
# once, 200 concurrent clients, pipelined requests, oversized and hostile
# PUT /state bodies (the graph stays byte-identical), long-poll clients
# that vanish (names: adv_ctrl_names.sh). Unix socket only,
# pv-ctrld --no-runtime; under ASan its log must hold no report.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

ADV=$PVX_SRC/tests/e2e/lib/adv.py
EX=$PVX_SRC/examples/mesh-unix
start_ctrld "$EX" --wait-timeout 2

# A process of ours to register as the external container "provider".
sleep 60 &
SLEEPER=$!
OWN_PIDS+=("$SLEEPER")

G0=$T/g0
api -D "$T/h0" -o "$G0" http://pvx/xconnect-graph
E0=$(tr -d '\r' <"$T/h0" | awk 'tolower($1) == "etag:" {print $2}')
[[ -n $E0 && -s $G0 ]] || fail "no graph or ETag at start"

# unchanged WHAT: the graph and its ETag are byte-identical to the start.
unchanged() {
	alive "$1"
	api -D "$T/h1" -o "$T/g1" http://pvx/xconnect-graph
	cmp -s "$G0" "$T/g1" || fail "graph changed after $1"
	[[ $(tr -d '\r' <"$T/h1" | awk 'tolower($1) == "etag:" {print $2}') == "$E0" ]] ||
		fail "ETag changed after $1"
}

adv() { "$PY" "$ADV" "$1" --sock "$SOCK" --pid "$CTRLD" "${@:2}" || fail "$1"; }

adv slowloris --clients 100 --seconds 3 --max-ms 500
unchanged "slowloris"
adv concurrent --clients 200
adv pipeline --container provider
unchanged "pipelined requests"

# PUT /state bodies: too large (413), hostile (400); graph unchanged.
put_state() { # EXPECTED FILE [curl args...]
	local want=$1 file=$2 code
	shift 2
	code=$(status_of -X PUT -H 'Expect:' "$@" --data-binary @"$file" http://pvx/state)
	[[ $code == "$want" ]] || fail "PUT /state $(basename "$file"): HTTP $code, want $want: $(head -c 300 "$T/body")"
	unchanged "PUT /state $(basename "$file")"
}
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/two-mib"
put_state 413 "$T/two-mib"
put_state 413 "$T/two-mib" -H 'Transfer-Encoding: chunked'
ok "2 MiB PUT /state: 413 (Content-Length and chunked); graph unchanged"

"$PY" - "$T" "$EX" <<'PY'
import json, os, sys
t, ex = sys.argv[1], sys.argv[2]
def w(name, data):
    with open(os.path.join(t, name), "wb") as f:
        f.write(data)
# A valid state.json of the example, to corrupt in several ways.
st = {"#spec": "pantavisor-service-system@1"}
for root, _, files in os.walk(ex):
    for fn in files:
        if fn.endswith(".json"):
            p = os.path.join(root, fn)
            st[os.path.relpath(p, ex)] = json.load(open(p))
good = json.dumps(st).encode()
w("good.json", good)
w("utf8.json", good.replace(b'"provider"', b'"prov\xff\xfeider"', 1))
w("overlong.json", good.replace(b'"app"', b'"\xc0\xafapp"', 1))
w("nested.json", b"[" * 100000 + b"]" * 100000)
w("nested-obj.json", b'{"a":' * 50000 + b"1" + b"}" * 50000)
w("nul.json", good[:40] + b"\0" + good[40:])
w("escaped-nul.json", good.replace(b'"app"', b'"a\\u0000pp"', 1))
# The same file twice: which one would win? (last-wins would hide one.)
w("dupkey.json", good[:-1] + b', "app/run.json": {"name": "app", "type": "lxc"}}')
w("dupkey-nested.json", good.replace(b'"name": "app"', b'"name": "app", "name": "app2"', 1))
w("bignum.json", good.replace(b'"#spec"', b'"x": 1' + b"9" * 5000 + b', "#spec"', 1))
w("array.json", b"[]")
w("string.json", b'"pantavisor-service-system@1"')
w("empty.json", b"")
w("spaces.json", b" " * 1000)
w("lone-surrogate.json", good.replace(b'"app"', b'"\\ud800app"', 1))
PY
for f in utf8 overlong nested nested-obj nul escaped-nul dupkey dupkey-nested bignum array string empty spaces lone-surrogate; do
	put_state 400 "$T/$f.json"
	"$PY" -c 'import json,sys; j=json.load(open(sys.argv[1])); assert j.get("errors"), j' "$T/body" ||
		fail "PUT /state $f.json: 400 without an error list: $(head -c 300 "$T/body")"
done
ok "hostile PUT /state bodies: 400 with an error list; graph byte-identical"

adv longpoll --clients 60 --container provider --adopt-pid "$SLEEPER" --wait-timeout 2
alive "long-poll"
[[ $(status_of http://pvx/xconnect-graph) == 200 ]] || fail "no graph after long-poll tests"

# SIGTERM while long-polls and a half-sent request are held: the daemon
# frees them all and exits 0 (under ASan: no use-after-free, no leak).
"$PY" "$ADV" hold --sock "$SOCK" --pid "$CTRLD" --clients 20 --seconds 5 >"$T/hold.out" &
HOLDER=$!
OWN_PIDS+=("$HOLDER")
for ((i = 0; i < 50; i++)); do
	grep -q HELD "$T/hold.out" 2>/dev/null && break
	sleep 0.1
done
grep -q HELD "$T/hold.out" || fail "holder not ready: $(cat "$T/hold.out")"
stop_ctrld
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$LOG" >/dev/null; then
	grep -E -A20 "AddressSanitizer|LeakSanitizer|runtime error:" "$LOG" | head -40 >&2
	fail "sanitizer report in pv-ctrld's log"
fi
ok "pv-ctrld stopped cleanly with 22 held requests, no sanitizer report"
