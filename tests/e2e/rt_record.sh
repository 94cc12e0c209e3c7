#!/usr/bin/env bash
# Issue 12, item 7: runtime.json damage. After a crash, a damaged record
# (truncated JSON, wrong shape) is moved aside to runtime.json.damaged-<UTC time> (never over an older one) and
# said loudly; the links pv-ctrld made (marked with the alias
# "pv-ctrld <state dir>") are removed all the same, never adopted as
# foreign; foreign links, even "pvx"-named ones, stay. A record that cannot
# be written is logged as an error (once), and again when it works.
# shellcheck disable=SC2016 # conditions given to eval are expanded when polled
. "$(dirname "$0")/lib/sandbox.sh"

sb_init crrec
sb_device
D=$SB_DEV

ip -n "$D" link add br9 type bridge
ip -n "$D" link add pvx0badf00d type veth peer name fgn0
FOREIGN=(br9 pvx0badf00d fgn0)

mkdir -p "$SB_TMP/st"
cat >"$SB_TMP/st/state.json" <<'JSON'
{
  "#spec": "pantavisor-service-system@1",
  "device.json": { "network": { "pools": {
    "internal": { "type": "bridge", "bridge": "br0",
                  "subnet": "10.0.4.0/24", "gateway": "10.0.4.1" } } } },
  "idle/run.json": { "name": "idle", "type": "process",
    "exec": ["sleep", "600"], "network": { "pool": "internal" } }
}
JSON
echo '{"#spec": "pantavisor-service-system@1", "device.json": {}}' \
	>"$SB_TMP/st/empty.json"
links() { ip -n "$D" -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }'; }
has_link() { grep -qx -- "$1" <<<"$(links)"; }
our_veths() { links | grep '^pvx' | grep -vx pvx0badf00d || true; }
check_foreign() {
	local l
	for l in "${FOREIGN[@]}"; do
		has_link "$l" || sb_fail "foreign link $l was removed"
	done
}
ctrld_up() { # NAME STATE
	rm -f "$SB_CTRL"
	sb_spawn "$1" ip netns exec "$D" "$PVX_BIN/pv-ctrld" --state "$2" \
		--ctrl "$SB_CTRL" --state-dir "$SB_STATE"
	sb_wait_for "control socket" 10 test -S "$SB_CTRL"
}
crash() { # NAME: pv-ctrld SIGKILLed, br0 and the veth left behind
	kill -KILL "$(sb_pid "$1")"
	sb_stop "$1" 1 || true
	has_link br0 || sb_fail "br0 already gone after a crash (nothing to test)"
}
run_idle() { # NAME
	ctrld_up "$1" "$SB_TMP/st/state.json"
	sb_wait_for "idle running" 10 eval '[[ $(sb_container_get idle status) == running ]]'
	sb_record "ct-$1" "$(sb_container_get idle pid)"
	[[ -n $(our_veths) ]] || sb_fail "no veth for idle"
	ip -n "$D" -d link show br0 | grep -q "alias pv-ctrld " ||
		sb_fail "br0 carries no pv-ctrld alias: $(ip -n "$D" -d link show br0)"
}

n=0
for damage in truncated shape; do
	n=$((n + 1))
	sb_step "$n. crash, runtime.json damaged ($damage), restart on an empty state"
	run_idle "ctrld$n"
	crash "ctrld$n"
	case $damage in
	truncated) head -c 20 "$SB_STATE/runtime.json" >"$SB_TMP/bad" ;;
	shape) echo '{"bridges": "br0", "veths": 7}' >"$SB_TMP/bad" ;;
	esac
	cp "$SB_TMP/bad" "$SB_STATE/runtime.json"
	ctrld_up "ctrld$n-b" "$SB_TMP/st/empty.json"
	sb_wait_for "br0 (ours) removed despite the damaged record" 10 eval '! has_link br0'
	sb_wait_for "our veths removed" 10 eval '[[ -z $(our_veths) ]]'
	check_foreign
	# Each damaged record is kept under a name of its own: the first
	# one is still there after the second.
	mapfile -t aside < <(ls -tr "$SB_STATE"/runtime.json.damaged-*)
	((${#aside[@]} == n)) || sb_fail "${#aside[@]} records moved aside, want $n: ${aside[*]}"
	cmp -s "$SB_TMP/bad" "${aside[n - 1]}" ||
		sb_fail "the damaged record was not moved aside intact"
	((n < 2)) || cmp -s "$SB_TMP/bad1" "${aside[0]}" ||
		sb_fail "the first damaged record was overwritten"
	cp "$SB_TMP/bad" "$SB_TMP/bad$n"
	grep -q "runtime.json: damaged .*moved to .*runtime.json.damaged-" "$SB_TMP/ctrld$n-b.log" ||
		sb_fail "no loud log line about the damaged record"
	sb_stop "ctrld$n-b" 10 || sb_fail "pv-ctrld exited with status $?"
	sb_ok "$(grep -m1 'damaged' "$SB_TMP/ctrld$n-b.log" | cut -c1-160)"
done

sb_step "3. a record that cannot be written is an error in the log"
run_idle ctrlw
mkdir "$SB_STATE/runtime.json.tmp" # open(O_TRUNC) of a directory: EISDIR
sb_api PUT /containers/idle '{"action": "restart"}' >/dev/null || sb_fail "restart refused"
sb_record ct-w2 "$(sb_container_get idle pid)"
sb_wait_for "error logged" 10 grep -q "runtime.json: cannot write" "$SB_TMP/ctrlw.log"
grep "runtime.json: cannot write" "$SB_TMP/ctrlw.log" | grep -q ' error ' ||
	sb_fail "the write failure is not logged as an error"
rmdir "$SB_STATE/runtime.json.tmp"
sb_api PUT /containers/idle '{"action": "restart"}' >/dev/null || sb_fail "restart refused"
sb_record ct-w3 "$(sb_container_get idle pid)"
sb_wait_for "recovery logged" 10 grep -q "runtime.json: written again" "$SB_TMP/ctrlw.log"
sb_stop ctrlw 10 || sb_fail "pv-ctrld exited with status $?"
check_foreign
sb_ok "$(grep -m1 'cannot write' "$SB_TMP/ctrlw.log" | cut -c1-160)"

sb_pass "damaged and unwritable runtime.json"
