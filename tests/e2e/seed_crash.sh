#!/usr/bin/env bash
# The harness after a crash: a test whose pv-ctrld dies by SIGKILL (its
# nginx container orphaned, veths and bridge left in the device) and which
# then fails still leaves nothing behind: no nginx, no namespace, no temp
# dir, a clean root netns.
. "$(dirname "$0")/lib/sandbox.sh"

sb_init crs
HERE=$(cd "$(dirname "$0")" && pwd)

sb_step "a child test: seed scenario up, SIGKILL pv-ctrld, fail"
rc=0
bash -c '
	. "$1/lib/sandbox.sh"
	sb_init crsc
	cp -a "$PVX_SRC/examples/ingress-hybrid" "$SB_TMP/state-src"
	sb_device
	sb_pvx_up "$SB_TMP/state-src"
	sb_pvx_wait_ingress nginx-http example-nginx-ingress 80
	echo "$SB_TMP" >"$2"
	for p in $(sb_listen_pids "pid:$SB_PROVIDER_PID" 80); do
		echo "$p:$(sb_starttime "$p")" >>"$2"
	done
	kill -KILL "$(sb_pid ctrld)"
	sb_wait_for "pv-ctrld gone" 5 eval "! sb_alive $(sb_pid ctrld)"
	sb_log "after the crash: nginx $(for p in $(tail -n +2 "$2"); do sb_alive "${p%:*}" "${p#*:}" && echo -n "${p%:*} "; done)alive"
	sb_fail "injected failure after a pv-ctrld crash"' \
	child "$HERE" "$SB_TMP/child" >"$SB_TMP/child.log" 2>&1 || rc=$?
cat "$SB_TMP/child.log" >&2
((rc == 1)) || sb_fail "child test: status $rc, want 1"
grep -q "FAIL injected failure" "$SB_TMP/child.log" || sb_fail "the child did not reach the crash"
ctmp=$(head -n 1 "$SB_TMP/child")
mapfile -t ngx < <(tail -n +2 "$SB_TMP/child")
((${#ngx[@]})) || sb_fail "the child found no nginx process"

sb_step "nothing of the child is left"
for e in "${ngx[@]}"; do
	! sb_alive "${e%:*}" "${e#*:}" || sb_fail "nginx pid ${e%:*} survived the cleanup"
done
[[ -z $(ip netns list | awk '$1 ~ /^pvxcrsc-/') ]] || sb_fail "netns pvxcrsc-* left behind"
[[ ! -e $ctmp ]] || sb_fail "$ctmp left behind"
sb_assert_root_clean || sb_fail "root netns not clean"
sb_pass "cleanup after a pv-ctrld crash: nginx ${ngx[*]%:*} gone, no netns, no temp dir"
