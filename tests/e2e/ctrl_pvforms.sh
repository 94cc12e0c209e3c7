#!/usr/bin/env bash
# Issue 13 (a)+(b): states written with Pantavisor's shorthands and
# aliases plan the same leases and graph as the long forms
# (`pv-ctrld --check`), and `GET /xconnect-graph` writes every link's keys
# in Pantavisor's order, added keys after them, an ingress rule's
# interface echoed.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

# write_state DIR APP_RUN_JSON: a pool, a provider "web", a consumer "app".
write_state() {
	mkdir -p "$1/web" "$1/app"
	cat >"$1/device.json" <<'J'
{"network": {"pools": {"internal": {"type": "bridge", "bridge": "br0",
  "subnet": "10.0.4.0/24", "gateway": "10.0.4.1"}}},
 "ingress": [{"name": "in", "type": "tcp", "external": "0.0.0.0:80",
  "provider": "web", "service": "www", "interface": "wlan0"},
  {"name": "plain", "type": "http", "external": "0.0.0.0:81/x",
  "provider": "web", "service": "www"}]}
J
	echo '{"type": "lxc", "network": {"pool": "internal"}}' >"$1/web/run.json"
	echo '[{"name": "www", "type": "tcp", "port": 80}]' >"$1/web/services.json"
	echo "$2" >"$1/app/run.json"
}

write_state "$T/short" '{"network": {"mode": "pool", "pool": "internal",
  "ip": "10.0.4.50", "mac": "02:00:0a:00:04:32"},
 "services": {"required": [{"service": "www", "type": "tcp",
  "external": "127.0.0.1:8080", "provider": "reader"}]}}'
write_state "$T/long" '{"network": {"mode": "pool", "interfaces": [
  {"name": "eth0", "pool": "internal", "ipv4_address": "10.0.4.50",
   "mac_address": "02:00:0a:00:04:32"}]},
 "services": {"required": [{"name": "www", "type": "tcp",
  "target": "127.0.0.1:8080", "role": "reader"}]}}'

for f in short long; do
	"$PVX_BIN/pv-ctrld" --check "$T/$f" --state-dir "$SDIR" >"$T/$f.json" \
		2>"$T/$f.err" || fail "--check $f: $(cat "$T/$f.err")"
done
cmp -s "$T/short.json" "$T/long.json" ||
	fail "short and long forms plan differently: $(cat "$T/short.json") vs $(cat "$T/long.json")"
grep -q '"10.0.4.50/24"' "$T/short.json" ||
	fail "static address of network.ip lost: $(cat "$T/short.json")"
ok "--check: shorthand and aliases plan the same leases and graph as the long form"

# A shorthand that disagrees with its long form is refused, naming both.
write_state "$T/bad" '{"network": {"pool": "internal", "ip": "10.0.5.9"},
 "services": {"required": [{"name": "www", "service": "db", "type": "tcp",
  "target": "127.0.0.1:8080"}]}}'
rc=0
"$PVX_BIN/pv-ctrld" --check "$T/bad" >"$T/o" 2>"$T/e" || rc=$?
[[ $rc == 1 ]] || fail "--check of conflicting forms: exit $rc"
grep -q "app/run.json: network.ip: 10.0.5.9 outside pool internal" "$T/e" ||
	fail "no network.ip error: $(cat "$T/e")"
grep -q "app/run.json: services.required\[0\].name: 'www' disagrees with service 'db'" "$T/e" ||
	fail "no name/service error: $(cat "$T/e")"
ok "--check: network.ip outside the pool and name/service conflict refused"

start_ctrld "$T/short"
api http://pvx/xconnect-graph >"$T/raw.json"
"$PY" - "$T/raw.json" <<'PY' || fail "graph key order"
import json, sys
PV = ["consumer", "consumer_pid", "provider", "provider_pid", "name",
      "type", "role", "interface", "target", "socket"]
links = json.load(open(sys.argv[1]), object_pairs_hook=lambda kv: kv)
assert len(links) == 3, links
seen = {}
for kv in links:
    keys = [k for k, _ in kv]
    assert keys[:10] == PV, f"keys {keys}"
    d = dict(kv)
    extra = keys[10:]
    assert extra == (["ingress"] if d["consumer"] == "EXTERNAL" else []), keys
    seen[d.get("ingress", d["consumer"])] = d
assert seen["in"]["interface"] == "wlan0", seen["in"]
assert seen["plain"]["interface"] == "", seen["plain"]
assert seen["app"]["role"] == "reader" and seen["app"]["name"] == "www"
assert seen["app"]["target"] == "127.0.0.1:8080", seen["app"]
PY
ok "GET /xconnect-graph: keys in Pantavisor's order, ingress after, interface echoed"
stop_ctrld
