#!/usr/bin/env bash
# Issue 4, Done when 4: an external ("lxc") container is a process the test
# starts with `unshare --net`; registered by PID (PUT /containers/<name>
# {"pid": N}) it gets eth0 with its lease and is reachable through a TCP
# ingress. When that PID dies the container is marked stopped.
. "$(dirname "$0")/lib/sandbox.sh"

CT=ext-web
PORT=8081 # the ingress, on the device
sb_init adp

cat >"$SB_TMP/state.json" <<JSON
{
  "#spec": "pantavisor-service-system@1",
  "device.json": {
    "network": { "pools": { "internal": {
      "type": "bridge", "bridge": "br0",
      "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" } } },
    "ingress": [
      { "name": "web-ingress", "type": "tcp", "external": "0.0.0.0:$PORT",
        "provider": "$CT", "service": "web" } ]
  },
  "$CT/run.json": {
    "name": "$CT", "type": "lxc",
    "network": { "mode": "pool", "pool": "internal" }
  },
  "$CT/services.json": {
    "#spec": "service-manifest-xconnect@1",
    "services": [ { "name": "web", "type": "tcp", "port": 8000 } ]
  }
}
JSON
mkdir -p "$SB_TMP/www"
echo "served from the adopted container" >"$SB_TMP/www/index.html"

sb_step "pv-ctrld and pv-xconnect on a state with an external container"
sb_device
sb_pvx_up "$SB_TMP/state.json"
sb_wait_for "graph link web listed" 10 eval '[[ $(sb_graph_get web name) == web ]]'
[[ $(sb_graph_get web provider_pid) == 0 ]] || sb_fail "provider_pid of web is not 0 before adoption"
sb_ok "web listed, provider_pid 0 before the adoption"

sb_step "an unshare --net process and a python http server inside it"
# Started in the device netns: if the unshare race were lost, the PID would
# still be in the device, never in the root namespace.
sb_spawn holder sb_dev_exec unshare --net sleep 55
H=$SB_LAST_PID
# It passes through the root and the device netns before unshare(2) runs.
sb_wait_for "pid $H in its own netns" 5 sb_netns_own "$H" "$SB_DEV"
sb_spawn web nsenter --net="/proc/$H/ns/net" "$SB_PY" -m http.server 8000 \
	--bind 0.0.0.0 --directory "$SB_TMP/www"
sb_wait_for "python listening on :8000 in pid $H's netns" 10 sb_listen_pids "pid:$H" 8000
sb_ok "pid $H has netns $(sb_netns_of "$H"), python server pid $(sb_pid web) inside"

sb_step "PUT /containers/$CT {\"pid\": $H}"
out=$(sb_api PUT "/containers/$CT" "{\"pid\": $H}") || sb_fail "adoption refused: $out"
sb_log "answer: $out"
sb_wait_for "provider_pid $H in the graph" 10 eval '[[ $(sb_graph_get web provider_pid) == "$H" ]]'
sb_wait_for "graph link web with a socket" 10 sb_graph_has web socket
SOCK=$(sb_graph_get web socket)
IP=${SOCK%:*}
[[ $SOCK == 10.0.4.*:8000 ]] || sb_fail "web socket '$SOCK' is not a 10.0.4.x:8000 lease"
[[ $(sb_container_get "$CT" status) == running ]] || sb_fail "status $(sb_container_get "$CT" status), want running"
sb_ok "graph: web provider_pid $H, socket $SOCK"

sb_step "eth0 of pid $H"
in_h() { nsenter --net="/proc/$H/ns/net" "$@"; }
sb_wait_for "eth0 with $IP in pid $H's netns" 10 eval 'in_h ip -4 -o addr show dev eth0 | grep -q " $IP/24 "'
in_h ip -br addr show dev eth0 >&2
in_h ip -br link show dev lo | grep -q UP || in_h ip -br link show dev lo | grep -q UNKNOWN ||
	sb_fail "lo is not up in pid $H's netns"
IFS=. read -r _ _ o3 o4 <<<"$IP"
mac=$(printf '02:00:0a:00:%02x:%02x' "$o3" "$o4")
in_h ip -o link show dev eth0 | grep -q "link/ether $mac " ||
	sb_fail "eth0 MAC is not $mac: $(in_h ip -o link show dev eth0)"
in_h ip route show default | grep -q "via 10.0.4.1 dev eth0" ||
	sb_fail "no default route via 10.0.4.1: $(in_h ip route)"
sb_ok "eth0 $IP/24, MAC $mac, default via 10.0.4.1, lo up"

sb_step "through the TCP ingress 0.0.0.0:$PORT of the device"
sb_wait_for "pv-xconnect listening on :$PORT" 10 sb_listen_pids "$SB_DEV" "$PORT"
body=$(sb_dev_exec "${SB_CURL[@]}" "http://127.0.0.1:$PORT/") || sb_fail "curl through the ingress failed"
[[ $body == "served from the adopted container" ]] || sb_fail "unexpected body: $body"
[[ $(sb_listen_pids "$SB_DEV" "$PORT") == "$(sb_pid xconnect)" ]] ||
	sb_fail ":$PORT in the device is not pv-xconnect's"
sb_ok "curl http://127.0.0.1:$PORT/ -> '$body'"
sb_assert_root_clean || sb_fail "root netns not clean"

sb_step "the adopted pid dies"
sb_stop holder 2 || true
sb_wait_for "$CT no longer running, provider_pid 0" 10 \
	eval '[[ $(sb_container_get "$CT" status) != running && $(sb_graph_get web provider_pid) == 0 ]]'
sb_ok "$CT status $(sb_container_get "$CT" status), provider_pid 0"

sb_step "shutdown"
sb_stop xconnect 5 || true
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_pass "external container adopted by PID"
