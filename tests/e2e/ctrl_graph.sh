#!/usr/bin/env bash
# Issue 2, done-when 1: with examples/ingress-hybrid, pv-ctrld publishes
# the seed's ingress link (socket "10.0.4.2:80", consumer EXTERNAL, …),
# pvcontrol shows it, and `pv-ctrld --check` prints the same graph.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid

# --check first: nothing running, nothing written.
"$PVX_BIN/pv-ctrld" --check "$EX" --state-dir "$SDIR" >"$T/check.json" \
	2>"$T/check.err" || fail "--check of $EX failed: $(cat "$T/check.err")"
[[ ! -e $SDIR/leases.json ]] || fail "--check wrote a lease file"

start_ctrld "$EX"
[[ $(stat -c %a "$SOCK") == 600 ]] || fail "socket mode $(stat -c %a "$SOCK")"

pvcontrol --json graph ls >"$T/graph.json" || fail "pvcontrol graph ls --json"
"$PY" - "$T/graph.json" <<'PY' || fail "graph content"
import json, sys
g = json.load(open(sys.argv[1]))
assert isinstance(g, list), "graph is not an array"
links = [l for l in g if l.get("name") == "nginx-http"]
assert len(links) == 1, f"nginx-http links: {links}"
l = links[0]
want = {"socket": "10.0.4.2:80", "consumer": "EXTERNAL", "consumer_pid": 0,
        "role": "EXTERNAL", "target": "0.0.0.0:80", "type": "tcp",
        "provider": "example-nginx-ingress", "provider_pid": 0,
        "interface": ""}
for k, v in want.items():
    assert l.get(k) == v, f"{k}: got {l.get(k)!r}, want {v!r}"
PY
ok "graph ls --json shows the seed's nginx-http link"

# The API's raw text and pvcontrol's output are the same graph, and
# --check planned exactly that graph and lease.
api http://pvx/xconnect-graph >"$T/raw.json"
"$PY" - "$T/graph.json" "$T/raw.json" "$T/check.json" <<'PY' || fail "--check graph differs"
import json, sys
cli, raw, chk = (json.load(open(p)) for p in sys.argv[1:4])
assert cli == raw, "pvcontrol --json differs from the API"
assert chk["graph"] == raw, f"--check graph {chk['graph']} != {raw}"
ls = chk["leases"]
assert len(ls) == 1 and ls[0]["container"] == "example-nginx-ingress" \
    and ls[0]["address"] == "10.0.4.2/24" and ls[0]["interface"] == "eth0" \
    and ls[0]["mac"] == "02:00:0a:00:04:02", ls
PY
ok "pv-ctrld --check prints the same graph and the planned lease"

# The state.json shape gives the same graph.
"$PVX_BIN/pv-ctrld" --check "$EX/state.json" >"$T/check2.json" ||
	fail "--check state.json"
"$PY" -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); assert a==b, "dir and state.json differ"' \
	"$T/check.json" "$T/check2.json" || fail "state.json vs directory"
ok "state.json and directory plan the same"

# Human-readable forms.
pvcontrol graph ls >"$T/graph.txt" || fail "pvcontrol graph ls"
grep -Eq '^tcp +nginx-http +EXTERNAL +0 +example-nginx-ingress +0 +0\.0\.0\.0:80 +10\.0\.4\.2:80$' \
	"$T/graph.txt" || fail "graph table: $(cat "$T/graph.txt")"
pvcontrol containers ls >"$T/cts.txt" || fail "pvcontrol containers ls"
grep -Eq '^example-nginx-ingress +process +pool +stopped +0 +eth0=10\.0\.4\.2/24' \
	"$T/cts.txt" || fail "containers table: $(cat "$T/cts.txt")"
pvcontrol --json containers ls >"$T/cts.json"
"$PY" - "$T/cts.json" <<'PY' || fail "containers json"
import json, sys
c = json.load(open(sys.argv[1]))
assert len(c) == 1, c
c = c[0]
assert c["name"] == "example-nginx-ingress" and c["type"] == "process"
assert c["status"] == "stopped" and c["pid"] == 0 and c["mode"] == "pool", c
assert c["addresses"] == [{"interface": "eth0", "pool": "internal",
    "address": "10.0.4.2/24", "mac": "02:00:0a:00:04:02"}], c["addresses"]
assert c["error"] == ""
PY
ok "containers ls: process container stopped, pid 0, its lease"

# The CLI's exit codes: usage 2, cannot connect 3, API error 1.
rc=0; pvcontrol graph frobnicate 2>/dev/null || rc=$?
[[ $rc == 2 ]] || fail "usage error exit $rc"
rc=0; "$PVX_BIN/pvcontrol" --ctrl "$T/nothing" graph ls 2>/dev/null || rc=$?
[[ $rc == 3 ]] || fail "cannot-connect exit $rc"
rc=0; pvcontrol container adopt no-such-container 1 2>"$T/e" || rc=$?
[[ $rc == 1 ]] && grep -q "no container" "$T/e" || fail "API error exit $rc: $(cat "$T/e")"
rc=0; PVX_CTRL=$SOCK "$PVX_BIN/pvcontrol" graph ls >/dev/null || rc=$?
[[ $rc == 0 ]] || fail "PVX_CTRL not honoured"
ok "pvcontrol exit codes 0/1/2/3 and PVX_CTRL"

# --check of a bad state: errors on stderr, exit 1.
echo '{"#spec": "pantavisor-service-system@1", "device.json": {"ingress": [{"name": "x", "type": "tcp", "external": "0.0.0.0:70000", "provider": "nope", "service": "s"}]}}' >"$T/bad.json"
rc=0; "$PVX_BIN/pv-ctrld" --check "$T/bad.json" >"$T/o" 2>"$T/e" || rc=$?
[[ $rc == 1 && ! -s $T/o ]] || fail "--check bad state: exit $rc"
grep -q "70000" "$T/e" || fail "--check did not name the bad port: $(cat "$T/e")"
ok "--check refuses a bad state"

# pvcontrol state load of the directory and of state.json, state reload:
# the same state again, so the graph keeps its bytes and ETag.
E0=$(etag_now)
for src in "$EX" "$EX/state.json"; do
	out=$(pvcontrol state load "$src") || fail "pvcontrol state load $src"
	[[ $out == applied ]] || fail "state load $src: $out"
done
pvcontrol --json state reload >"$T/rl.json" || fail "pvcontrol state reload"
grep -q '"applied"' "$T/rl.json" || fail "reload: $(cat "$T/rl.json")"
[[ $(etag_now) == "$E0" ]] || fail "re-applying the same state changed the ETag"
api http://pvx/xconnect-graph | cmp -s - "$T/raw.json" || fail "graph bytes changed"
ok "pvcontrol state load DIR|FILE and state reload: same graph, same ETag"

stop_ctrld
ok "SIGTERM: exit 0, socket removed"
