#!/usr/bin/env bash
# The seed scenario from its state.json form (SPEC §3: one JSON object of
# file paths, with keys pvx ignores): same graph, same page through the
# ingress as from the directory form.
. "$(dirname "$0")/lib/sandbox.sh"

CT=example-nginx-ingress
sb_init sjs
cp -a "$PVX_SRC/examples/ingress-hybrid" "$SB_TMP/state-src"

sb_step "pv-ctrld --state .../ingress-hybrid/state.json"
sb_device
sb_pvx_up "$SB_TMP/state-src/state.json"
sb_pvx_wait_ingress nginx-http "$CT" 80
[[ $(sb_graph_get nginx-http socket) == 10.0.4.2:80 ]] ||
	sb_fail "nginx-http socket is '$(sb_graph_get nginx-http socket)', want 10.0.4.2:80"
sb_ok "nginx-http socket 10.0.4.2:80, provider_pid $SB_PROVIDER_PID"
body=$(sb_dev_exec "${SB_CURL[@]}" http://127.0.0.1:80/) || sb_fail "curl through the ingress failed"
grep -q "Welcome to nginx!" <<<"$body" || sb_fail "no 'Welcome to nginx!' in: ${body:0:300}"
sb_ok "through the ingress: $(grep -o '<title>[^<]*</title>' <<<"$body")"

sb_step "shutdown"
sb_stop xconnect 5 || true
sb_stop ctrld 15 || sb_fail "pv-ctrld exited with status $?"
sb_pass "seed scenario from state.json"
