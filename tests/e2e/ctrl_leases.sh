#!/usr/bin/env bash
# Issue 2, done-when 2 through the daemon: leases survive a pv-ctrld
# restart on the same state dir; adding containers (PUT /state) never
# moves an existing lease; static addresses win over dynamic ones;
# removing a container frees its lease.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid

put_state() {
	local code
	code=$(status_of -X PUT --data-binary @"$1" http://pvx/state)
	[[ $code == 200 ]] || fail "PUT /state $1: $code $(cat "$T/body")"
}

gen "$T/s1.json"
start_ctrld "$T/s1.json"
leases_are example-nginx-ingress=10.0.4.2
ok "first start: nginx gets 10.0.4.2"

# A container whose name sorts first joins: nginx keeps its address.
gen "$T/s2.json" aaa
put_state "$T/s2.json"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
ok "PUT /state adding aaa: nginx keeps 10.0.4.2, aaa gets 10.0.4.3"

# Restart on the same state dir with a source that lists both: a fresh
# allocation would hand out 10.0.4.2 to aaa; the lease file prevents it.
cp "$T/s2.json" "$T/s1.json"
api http://pvx/xconnect-graph >"$T/g1"
stop_ctrld
start_ctrld "$T/s1.json"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
api http://pvx/xconnect-graph >"$T/g2"
cmp -s "$T/g1" "$T/g2" || fail "graph changed across a restart"
ok "restart keeps every lease and the graph"

# --check plans with the current leases and never writes the file.
gen "$T/s3.json" aaa bbb stat=10.0.4.4
cp "$SDIR/leases.json" "$T/leases.before"
"$PVX_BIN/pv-ctrld" --check "$T/s3.json" --state-dir "$SDIR" >"$T/plan.json" ||
	fail "--check with a state dir"
cmp -s "$SDIR/leases.json" "$T/leases.before" || fail "--check wrote the lease file"
"$PY" - "$T/plan.json" <<'PY' || fail "--check plan: $(cat "$T/plan.json")"
import json, sys
p = json.load(open(sys.argv[1]))
got = {l["container"]: l["address"] for l in p["leases"]}
want = {"example-nginx-ingress": "10.0.4.2/24", "aaa": "10.0.4.3/24",
        "stat": "10.0.4.4/24", "bbb": "10.0.4.5/24"}
assert got == want, got
PY
ok "--check --state-dir plans with the current leases, read-only"

# A static address and a new dynamic container in one state: the static
# one is reserved first, the dynamic one takes the next free address.
gen "$T/s3.json" aaa bbb stat=10.0.4.4
put_state "$T/s3.json"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3 stat=10.0.4.4 bbb=10.0.4.5
ok "static 10.0.4.4 wins over the new dynamic bbb (10.0.4.5)"

# aaa leaves: its lease is freed (and its address is free again).
gen "$T/s4.json" bbb stat=10.0.4.4
put_state "$T/s4.json"
leases_are example-nginx-ingress=10.0.4.2 stat=10.0.4.4 bbb=10.0.4.5
gen "$T/s5.json" bbb stat=10.0.4.4 ccc
put_state "$T/s5.json"
leases_are example-nginx-ingress=10.0.4.2 stat=10.0.4.4 bbb=10.0.4.5 ccc=10.0.4.3
ok "removing aaa frees 10.0.4.3; ccc gets it later"

# POST /state/reload goes back to the source (nginx + aaa): the others'
# leases go, aaa gets an address again, nginx is untouched.
code=$(status_of -X POST http://pvx/state/reload)
[[ $code == 200 ]] || fail "reload: $code $(cat "$T/body")"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
ok "POST /state/reload applies the source again"

# SIGHUP reloads too: the source gains bbb.
gen "$T/s1.json" aaa bbb
kill -HUP "$CTRLD"
for ((i = 0; i < 50; i++)); do
	grep -q '"bbb"' "$SDIR/leases.json" && break
	sleep 0.1
done
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3 bbb=10.0.4.4
ok "SIGHUP reloads the source"

stop_ctrld
start_ctrld "$T/s1.json"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3 bbb=10.0.4.4
stop_ctrld
ok "leases stable across a second restart"
