#!/usr/bin/env bash
# GET /metrics on pv-ctrld's control socket (issue 11): the text passes the
# Prometheus parser (python3-prometheus-client); containers by state equal
# GET /containers, leases per pool equal the containers' addresses, the
# graph generation grows when the graph changes (an adoption) and not on
# a read; HEAD is allowed, PUT is 405.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	fail "python3-prometheus-client missing (scripts/install-deps)"

# ingress-hybrid plus an external container on the same pool that uses
# nginx (its consumer_pid is in the graph).
cp -r "$PVX_SRC/examples/ingress-hybrid" "$T/st"
rm -f "$T/st/state.json"
mkdir "$T/st/ext"
printf '{"name":"ext","type":"lxc","network":{"mode":"pool","pool":"internal"},%s}\n' \
	'"services":{"required":[{"name":"nginx-http","type":"tcp","target":"127.0.0.1:8080"}]}' \
	>"$T/st/ext/run.json"
start_ctrld "$T/st"

metrics() { api -D "$T/mhead" http://pvx/metrics >"$T/metrics.txt" || fail "GET /metrics"; }
# check: compares the metrics with GET /containers; prints the generation.
check() {
	api http://pvx/containers >"$T/containers.json" || fail "GET /containers"
	metrics
	"$PY" - "$T/metrics.txt" "$T/containers.json" <<'PY'
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
cs = json.load(open(sys.argv[2]))
by_state = {s.labels["state"]: s.value for s in fams["pvc_containers"].samples}
want = {}
for c in cs:
    want[c["status"]] = want.get(c["status"], 0) + 1
for st, n in want.items():
    assert by_state.get(st) == n, f"state {st}: metrics {by_state.get(st)}, /containers {n}"
assert sum(by_state.values()) == len(cs), by_state
up = {s.labels["name"]: s.value for s in fams["pvc_container_up"].samples}
assert up == {c["name"]: float(c["status"] == "running") for c in cs}, up
leases = {s.labels["pool"]: s.value for s in fams["pvc_pool_leases"].samples}
addrs = sum(1 for c in cs for a in c["addresses"] if a["pool"] == "internal")
assert leases == {"internal": addrs} and addrs == 2, (leases, addrs)
size = {s.labels["pool"]: s.value for s in fams["pvc_pool_addresses"].samples}
assert size == {"internal": 253}, size
for f in ("pvc_container_restarts", "pvc_container_exits"):
    assert f in fams and fams[f].type == "counter", f
gen = fams["pvc_graph_generation"].samples[0].value
print(int(gen))
PY
}
g1=$(check) || fail "metrics before the adoption"
((g1 >= 1)) || fail "generation $g1"
grep -qi '^content-type: text/plain; version=0.0.4' "$T/mhead" || fail "content type"
g1b=$(check) || fail "metrics read twice"
((g1b == g1)) || fail "generation moved on a read: $g1 -> $g1b"

sleep 300 &
SLEEPER=$!
OWN_PIDS+=("$SLEEPER")
api -X PUT -d "{\"pid\": $SLEEPER}" http://pvx/containers/ext >/dev/null || fail "adopt"
g2=$(check) || fail "metrics after the adoption"
((g2 > g1)) || fail "generation did not grow with the graph: $g1 -> $g2"
grep -q '^pvc_containers{state="running"} 1$' "$T/metrics.txt" || fail "running: $(cat "$T/metrics.txt")"
grep -q '^pvc_container_up{name="ext",type="lxc"} 1$' "$T/metrics.txt" || fail "ext up"
ok "metrics follow /containers, leases and graph changes"

[[ $(status_of -I http://pvx/metrics) == 200 ]] || fail "HEAD /metrics"
[[ $(status_of -X PUT -d x http://pvx/metrics) == 405 ]] || fail "PUT /metrics not 405"
ok "methods"
