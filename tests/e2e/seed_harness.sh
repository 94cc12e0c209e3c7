#!/usr/bin/env bash
# Self-test of the sandbox harness (tests/e2e/lib/sandbox.sh): a device and
# a container namespace joined by a veth, an `unshare --net` holder, and
# cleanup after success, failure, a signal and escaped grandchildren.
. "$(dirname "$0")/lib/sandbox.sh"

sb_init hx
HERE=$(cd "$(dirname "$0")" && pwd)

sb_step "device and container namespaces joined by a veth"
sb_device
sb_netns ct
CT=${SB_PREFIX}ct
ip -n "$SB_DEV" link add "${SB_PREFIX}v0" type veth peer name eth0 netns "$CT"
ip -n "$SB_DEV" addr add 10.0.4.1/24 dev "${SB_PREFIX}v0"
ip -n "$SB_DEV" link set "${SB_PREFIX}v0" up
ip -n "$CT" addr add 10.0.4.2/24 dev eth0
ip -n "$CT" link set eth0 up
mkdir -p "$SB_TMP/www"
echo "hello from the container" >"$SB_TMP/www/index.html"
sb_spawn web sb_in "$CT" "$SB_PY" -m http.server 8000 --bind 0.0.0.0 \
	--directory "$SB_TMP/www"
sb_wait_for "web listening in $CT" 10 sb_listen_pids "$CT" 8000
[[ $(sb_listen_pids "$CT" 8000) == "$(sb_pid web)" ]] ||
	sb_fail "listener pid $(sb_listen_pids "$CT" 8000) is not web's $(sb_pid web)"
body=$(sb_dev_exec "${SB_CURL[@]}" http://10.0.4.2:8000/)
[[ $body == "hello from the container" ]] || sb_fail "unexpected body: $body"
sb_ok "device -> container over the veth: $body"
! sb_listen_pids - 8000 >/dev/null || sb_fail "something listens on :8000 in the root netns"
sb_assert_root_clean || sb_fail "root netns not clean mid-test"
sb_ok "root netns clean mid-test"

sb_step "unshare --net holder, registered by PID"
sb_spawn holder sb_dev_exec unshare --net sleep 50
sb_wait_for "holder in its own netns" 5 sb_netns_own "$(sb_pid holder)" "$SB_DEV"
[[ $(sb_netns_of "$(sb_pid holder)") != $(sb_netns_of "$(sb_pid web)") ]] ||
	sb_fail "holder shares the container's netns"
ip -n "$SB_DEV" link add "${SB_PREFIX}v1" type veth peer name "${SB_PREFIX}p1" \
	netns "$(sb_pid holder)"
nsenter --net="/proc/$(sb_pid holder)/ns/net" ip link set "${SB_PREFIX}p1" name eth0
[[ -n $(sb_ns_run "pid:$(sb_pid holder)" ip -br link show eth0) ]] ||
	sb_fail "eth0 not in the holder's netns"
sb_ok "veth peer moved into pid $(sb_pid holder)'s netns and renamed eth0"

sb_step "the root check sees a recorded process's socket in the root netns"
sb_spawn rootsock "$SB_PY" -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); time.sleep(30)'
sb_wait_for "rootsock listening" 5 eval '[[ -n $(ss -Hltnp | grep "pid=$(sb_pid rootsock),") ]]'
if sb_root_sockets_check 2>/dev/null; then
	sb_fail "sb_root_sockets_check missed rootsock's listener on 127.0.0.1"
fi
sb_stop rootsock 2 || true
sb_root_sockets_check || sb_fail "sb_root_sockets_check still fails after rootsock stopped"
sb_ok "a loopback listener of a recorded pid in the root netns is reported"

sb_step "sb_stop and exit status"
sb_spawn short sleep 30
rc=0
sb_stop short 2 || rc=$?
((rc == 143)) || sb_fail "sb_stop short: status $rc, want 143 (SIGTERM)"
sb_ok "sb_stop: SIGTERM, status $rc"

sb_step "cleanup of a failing, an interrupted and a leaking child test"
child() { # child ID MODE: a small test that leaves things behind
	bash -c '
		. "$1/lib/sandbox.sh"
		sb_init "$2"
		sb_device
		sb_spawn srv sb_dev_exec sleep 47.31
		# an escaped grandchild: re-parented away from us, found by token
		setsid bash -c "sleep 47.32 & disown" </dev/null >/dev/null 2>&1
		# a process in our named netns that we never recorded
		ip netns exec "$SB_DEV" setsid sleep 47.33 </dev/null >/dev/null 2>&1 &
		disown
		echo "$SB_TMP" >"$4"
		case $3 in
		fail) sb_fail "injected failure" ;;
		term) kill -TERM $$; sleep 5 ;;
		ok) exit 0 ;;
		esac' child "$HERE" "$1" "$2" "$SB_TMP/child.$1" >"$SB_TMP/child.$1.out" 2>&1
}
for mode in fail term ok; do
	id=hx${mode:0:1}
	rc=0
	child "$id" "$mode" || rc=$?
	case $mode in
	fail) ((rc == 1)) || sb_fail "child $mode: status $rc, want 1" ;;
	term) ((rc == 143)) || sb_fail "child $mode: status $rc, want 143" ;;
	ok) ((rc == 0)) || sb_fail "child $mode: status $rc, want 0" ;;
	esac
	ctmp=$(<"$SB_TMP/child.$id")
	[[ ! -e $ctmp ]] || sb_fail "child $mode left $ctmp"
	! ip netns list | grep -q "^pvx$id-" || sb_fail "child $mode left a netns"
	for s in 47.31 47.32 47.33; do
		if pgrep -fx "sleep $s" >/dev/null; then
			sb_fail "child $mode left 'sleep $s' running: $(pgrep -afx "sleep $s")"
		fi
	done
	sb_ok "child ($mode): status $rc, no netns, no process, no temp dir left"
done

sb_pass "sandbox harness"
