#!/usr/bin/env bash
# Issue 11: `pvcontrol state load DIR` run from another folder makes DIR
# the state source: a process container's relative script is the one in
# DIR (run in DIR), and a later `state reload` rereads DIR, not the --state
# folder pv-ctrld started with. A refused load changes neither. In the
# sandbox's device namespace; the containers have network mode none.
. "$(dirname "$0")/lib/sandbox.sh"
sb_init opld
sb_device

# mkstate DIR MARK: one process container "w" whose relative script
# writes "MARK $MODE $PWD" into the folder it runs in.
mkstate() {
	mkdir -p "$1/w"
	cat >"$1/w/run.sh" <<EOS
echo "$2 \$MODE \$PWD" >>"\$PVX_STATE_DIR/w.out"
exec sleep 600
EOS
	printf '{"type": "process", "exec": ["/bin/sh", "w/run.sh"], "env": {"MODE": "%s"}}\n' \
		"$3" >"$1/w/run.json"
}
A=$SB_TMP/a
B=$SB_TMP/elsewhere/b
mkstate "$A" A one
mkstate "$B" B two

sb_spawn ctrld sb_dev_exec "$PVX_BIN/pv-ctrld" --state "$A" --ctrl "$SB_CTRL" \
	--state-dir "$SB_STATE"
sb_wait_for "control socket" 20 test -S "$SB_CTRL"
sb_wait_for "container w from A" 20 grep -q "^A one $A$" "$A/w.out"
sb_ok "started on A: $(cat "$A/w.out")"

PVC=("$PVX_BIN/pvcontrol" --ctrl "$SB_CTRL")
(cd / && "${PVC[@]}" state load "$B") >"$SB_TMP/load.out" 2>&1 ||
	sb_fail "state load B: $(cat "$SB_TMP/load.out")"
sb_wait_for "container w from B, run in B" 20 grep -q "^B two $B$" "$B/w.out"
sb_ok "state load $B from /: container runs B's script in B: $(cat "$B/w.out")"

# A reload rereads B: change B, reload, the container follows B.
sed -i 's/"two"/"three"/' "$B/w/run.json"
"${PVC[@]}" state reload >"$SB_TMP/reload.out" 2>&1 || sb_fail "reload: $(cat "$SB_TMP/reload.out")"
sb_wait_for "container w from B again" 20 grep -q "^B three $B$" "$B/w.out"
[[ $(wc -l <"$A/w.out") == 1 ]] || sb_fail "A's script ran again: $(cat "$A/w.out")"
sb_ok "state reload rereads B"

# A refused load keeps B as the source.
mkdir -p "$SB_TMP/bad/w"
echo '{"type": "proccess"}' >"$SB_TMP/bad/w/run.json"
rc=0
(cd / && "${PVC[@]}" state load "$SB_TMP/bad") >"$SB_TMP/bad.out" 2>&1 || rc=$?
[[ $rc == 1 ]] || sb_fail "bad load: exit $rc: $(cat "$SB_TMP/bad.out")"
grep -q "unknown container type 'proccess'" "$SB_TMP/bad.out" || sb_fail "bad load: $(cat "$SB_TMP/bad.out")"
sed -i 's/"three"/"four"/' "$B/w/run.json"
"${PVC[@]}" state reload >"$SB_TMP/reload2.out" 2>&1 || sb_fail "reload 2: $(cat "$SB_TMP/reload2.out")"
sb_wait_for "container w from B after a refused load" 20 grep -q "^B four $B$" "$B/w.out"
sb_ok "a refused load leaves the source alone"
sb_pass "state load DIR makes DIR the source"
