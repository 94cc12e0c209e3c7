#!/usr/bin/env bash
# Issue 9, done-when 5 (control plane): bad values of the added ingress
# fields (proxy_protocol "v3", a malformed CIDR, max_conns -1, …) are
# refused by `pv-ctrld --check` and by PUT /state, each with file, JSON
# path and reason; a refused state changes nothing. A good state with
# every field is accepted and its graph carries them after Pantavisor's
# keys. (pv-xconnect's own check: xc_graph_malformed.sh.)
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-limits
[[ -f $EX/state.json ]] || fail "no example $EX/state.json"

# --check of the example: valid, graph with every added field.
"$PVX_BIN/pv-ctrld" --check "$EX/state.json" >"$T/check.out" 2>&1 ||
	fail "--check of the example refused it: $(cat "$T/check.out")"
for f in proxy_protocol allow max_conns connect_timeout_ms idle_timeout_s; do
	grep -q "\"$f\"" "$T/check.out" || fail "--check graph lacks $f: $(cat "$T/check.out")"
done
ok "--check accepts examples/ingress-limits; the graph has every added field"

# The same example as a directory, broken in three places.
"$PY" - "$EX/state.json" "$T/bad.json" "$T/baddir" <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
ing = s["device.json"]["ingress"]
ing[0]["proxy_protocol"] = "v3"
ing[0]["allow"] = ["127.0.0.1/32", "10.0.0.1/8"]
ing[1]["max_conns"] = -1
json.dump(s, open(sys.argv[2], "w"))
for k, v in s.items():
    if k.startswith("#"):
        continue
    p = os.path.join(sys.argv[3], k)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    json.dump(v, open(p, "w"))
PY
WANT=(
	"device.json: ingress[0].proxy_protocol: unknown PROXY protocol version 'v3' (expected v1 or v2)"
	"device.json: ingress[0].allow[1]: '10.0.0.1/8': host bits set (network address expected)"
	"device.json: ingress[1].max_conns: -1 out of range (1-1000000)"
)
for bad in "$T/bad.json" "$T/baddir"; do
	rc=0
	"$PVX_BIN/pv-ctrld" --check "$bad" >"$T/check.out" 2>&1 || rc=$?
	((rc != 0)) || fail "--check $bad accepted it"
	for w in "${WANT[@]}"; do
		grep -qF -- "$w" "$T/check.out" || fail "--check $bad: no '$w' in: $(cat "$T/check.out")"
	done
done
ok "--check refuses the bad values (state.json and directory), each with file, path, reason"

# PUT /state: 400 listing all three; the graph in force is unchanged.
start_ctrld "$EX/state.json"
api http://pvx/xconnect-graph >"$T/before.graph"
code=$(status_of -X PUT --data-binary @"$T/bad.json" http://pvx/state)
[[ $code == 400 ]] || fail "PUT /state bad: HTTP $code, want 400"
for w in "${WANT[@]}"; do
	grep -qF -- "$w" "$T/body" || fail "PUT /state: no '$w' in: $(cat "$T/body")"
done
api http://pvx/xconnect-graph >"$T/after.graph"
cmp -s "$T/before.graph" "$T/after.graph" || fail "refused state changed the graph"
ok "PUT /state: 400 with the three messages; graph unchanged"

# A change of only an added field is a change of the graph.
"$PY" - "$EX/state.json" "$T/v1.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["device.json"]["ingress"][0]["proxy_protocol"] = "v1"
json.dump(s, open(sys.argv[2], "w"))
PY
code=$(status_of -X PUT --data-binary @"$T/v1.json" http://pvx/state)
[[ $code == 200 ]] || fail "PUT /state v1: HTTP $code: $(cat "$T/body")"
api http://pvx/xconnect-graph | grep -q '"proxy_protocol":"v1"' ||
	fail "graph does not show the new proxy_protocol"
ok "a state differing only in proxy_protocol is applied"
