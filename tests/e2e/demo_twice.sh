#!/usr/bin/env bash
# Issue 4, Done when 6: scripts/demo (what `make demo` runs after building)
# is green twice in a row, each run under a minute, and leaves nothing
# behind: no pvxdemo- namespace, no nginx it started, nothing of ours in
# the root netns.
. "$(dirname "$0")/lib/sandbox.sh"

sb_init dtw
DEMO=$PVX_SRC/scripts/demo
EXAMPLE=$(cd "$PVX_SRC/examples/ingress-hybrid" && pwd -P)

# nginx processes the demo started run with their cwd in the example (the
# tests use copies in their temp dirs); print them as PID:START.
demo_nginx() {
	local p
	for p in $(pgrep -x nginx || true); do
		[[ $(readlink "/proc/$p/cwd" 2>/dev/null) == "$EXAMPLE"* ]] &&
			echo "$p:$(sb_starttime "$p" || echo 0) ($(ps -o pid=,ppid=,etimes=,args= -p "$p" || true))"
	done
	return 0
}

DEMO_LOCK=/run/lock/pvx-sandbox-demo.lock
[[ -d /run/lock ]] || DEMO_LOCK=/tmp/pvx-sandbox-demo.lock
example_files() { git -C "$PVX_SRC" status --porcelain --ignored -- "$EXAMPLE"; }
before=$(example_files)
declare -a took=()
for run in 1 2; do
	sb_step "scripts/demo, run $run"
	t0=${EPOCHREALTIME/./}
	rc=0
	PVX_BIN=$PVX_BIN timeout 90 bash "$DEMO" >"$SB_TMP/demo$run.out" 2>&1 || rc=$?
	ms=$(((${EPOCHREALTIME/./} - t0) / 1000))
	took+=("$ms")
	if ((rc != 0)); then
		cat "$SB_TMP/demo$run.out" >&2
		sb_fail "demo run $run exited with status $rc after $ms ms"
	fi
	grep -q "Welcome to nginx!" "$SB_TMP/demo$run.out" ||
		sb_fail "demo run $run did not print nginx's welcome title"
	grep -q "PASS demo" "$SB_TMP/demo$run.out" || sb_fail "demo run $run did not pass"
	sb_ok "run $run green in $ms ms"
	ngx=$(grep -o 'nginx processes: .*' "$SB_TMP/demo$run.out" | cut -d: -f2-) ||
		sb_fail "run $run did not report its nginx processes"
	for e in $ngx; do
		! sb_alive "${e%%:*}" "${e#*:}" || sb_fail "run $run left its nginx (pid ${e%%:*}) running"
	done
	# A pvxdemo- namespace, temp dir or an nginx in the example's directory
	# is a leftover, unless a demo of someone else runs right now (it holds
	# the demo lock while it runs).
	exec 8>"$DEMO_LOCK"
	if flock -n 8; then
		left=$(ip netns list | awk '$1 ~ /^pvxdemo-/ { print $1 }')
		[[ -z $left ]] || sb_fail "run $run left namespaces: $left"
		[[ -z $(demo_nginx) ]] || sb_fail "run $run left nginx running: $(demo_nginx)"
		[[ -z $(ls -d /var/tmp/pvxdemo.* 2>/dev/null) ]] ||
			sb_fail "run $run left $(ls -d /var/tmp/pvxdemo.*)"
	else
		sb_log "another demo is running: only the pids of ours are checked"
	fi
	exec 8>&-
	sb_assert_root_clean || sb_fail "root netns not clean after run $run"
	sb_ok "run $run left no namespace, no nginx, no temp dir, clean root netns"
done
[[ $(example_files) == "$before" ]] ||
	sb_fail "the demo changed files under examples/ingress-hybrid: $(diff <(echo "$before") <(example_files))"
sb_pass "demo twice: ${took[0]} ms and ${took[1]} ms"
