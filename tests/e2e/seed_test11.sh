#!/usr/bin/env bash
# The seed's "Test 11" (issue 4, Done when 1): on a sandbox device, the
# graph's nginx-http ingress link points at 10.0.4.2:80 with a live
# provider, and the device's 127.0.0.1:80 serves the real nginx of the
# container through pv-xconnect (nginx itself listens only in its netns).
. "$(dirname "$0")/lib/sandbox.sh"

CT=example-nginx-ingress
sb_init t11
cp -a "$PVX_SRC/examples/ingress-hybrid" "$SB_TMP/state-src"

sb_step "pv-ctrld and pv-xconnect on examples/ingress-hybrid"
sb_device
sb_pvx_up "$SB_TMP/state-src"
sb_pvx_wait_ingress nginx-http "$CT" 80
NGX=$SB_PROVIDER_PID
XC=$(sb_pid xconnect)

sb_step "the graph"
sb_graph | sb_json "[l for l in j if l.get('name') == 'nginx-http']"
sock=$(sb_graph_get nginx-http socket)
[[ $sock == "10.0.4.2:80" ]] || sb_fail "nginx-http socket is '$sock', want 10.0.4.2:80"
sb_ok "nginx-http socket $sock"
want=(type=tcp consumer=EXTERNAL consumer_pid=0 role=EXTERNAL target=0.0.0.0:80
	"provider=$CT" interface=)
for kv in "${want[@]}"; do
	got=$(sb_graph_get nginx-http "${kv%%=*}")
	[[ $got == "${kv#*=}" ]] || sb_fail "nginx-http ${kv%%=*} is '$got', want '${kv#*=}'"
done
sb_ok "nginx-http fields: ${want[*]}"

sb_step "the provider is a live process in its own netns"
kill -0 "$NGX" || sb_fail "provider_pid $NGX is not alive"
[[ $(sb_netns_of "$NGX") != $(sb_netns_of "$XC") ]] ||
	sb_fail "provider $NGX shares the device's netns"
[[ $(sb_container_get "$CT" pid) == "$NGX" ]] ||
	sb_fail "GET /containers pid $(sb_container_get "$CT" pid) != graph's $NGX"
sb_ok "provider_pid $NGX alive, netns $(sb_netns_of "$NGX") != device's $(sb_netns_of "$XC")"
ngx_pids=$(sb_listen_pids "pid:$NGX" 80)
for p in $ngx_pids; do
	[[ $(cat "/proc/$p/comm") == nginx ]] || sb_fail "pid $p on :80 in the container is $(cat "/proc/$p/comm"), not nginx"
done
nsenter --net="/proc/$NGX/ns/net" ip -4 -o addr show dev eth0 | grep -q ' 10\.0\.4\.2/24 ' ||
	sb_fail "the container's eth0 has no 10.0.4.2/24"
sb_ok "real nginx (pids ${ngx_pids//$'\n'/ }) listens on :80 in the container, eth0 10.0.4.2/24"

sb_step "the device's :80 belongs to pv-xconnect only"
dev80=$(sb_listen_pids "$SB_DEV" 80)
[[ $dev80 == "$XC" ]] || sb_fail "listeners on :80 in the device: pids ${dev80//$'\n'/ }, want only pv-xconnect $XC"
sb_ok "ss -ltn in the device: :80 owned by pv-xconnect (pid $XC) only"

sb_step "curl http://127.0.0.1:80/ in the device"
body=$(sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:80/) || sb_fail "curl through the ingress failed"
grep -q "Welcome to nginx!" <<<"$body" || sb_fail "no 'Welcome to nginx!' in: ${body:0:300}"
sb_ok "through the ingress: $(grep -o '<title>[^<]*</title>' <<<"$body")"
sb_wait_for "pv-xconnect listening on :443 in the device" 10 sb_listen_pids "$SB_DEV" 443
sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:443/ | grep -q "Welcome to nginx!" ||
	sb_fail "the second ingress (0.0.0.0:443 -> nginx-https) does not serve the page"
sb_ok "the second ingress 0.0.0.0:443 -> nginx-https ($(sb_graph_get nginx-https socket)) works too"
ip=$(sb_dev_exec "${SB_CURL[@]}" -o /dev/null -w '%{remote_ip}:%{remote_port}' http://10.0.4.2:80/) ||
	sb_fail "nginx not reachable from the device at its address"
sb_ok "the device reaches nginx directly only at its address ($ip)"
sb_assert_root_clean || sb_fail "root netns not clean"
sb_ok "root netns clean"

sb_step "shutdown"
rc=0
sb_stop xconnect 5 || rc=$?
((rc == 0 || rc == 143)) || sb_fail "pv-xconnect exited with status $rc"
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_wait_for "nginx (pid $NGX) stopped with pv-ctrld" 5 eval '! sb_alive "$NGX"'
sb_ok "pv-ctrld stopped its container"
sb_pass "seed test 11"
