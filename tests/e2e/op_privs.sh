#!/usr/bin/env bash
# Issue 11: without the privileges its runtime needs, pv-ctrld refuses to
# start, naming what is missing and what to do, before it touches anything
# (no socket, no lease file); with --no-runtime it starts anyway. Dropped
# with setpriv: CAP_NET_ADMIN alone, then everything (user nobody). Unix
# sockets only; nothing runs past the refusal.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/mesh-unix
refused() { # refused WHAT WANT SETPRIV-ARGS…
	local what=$1 want=$2 rc=0
	shift 2
	rm -rf "$SDIR" "$SOCK"
	timeout 20 setpriv "$@" -- "$PVX_BIN/pv-ctrld" --state "$EX" \
		--ctrl "$SOCK" --state-dir "$SDIR" >"$T/out" 2>"$T/err" || rc=$?
	((rc == 1)) || fail "$what: exit $rc, want 1: $(cat "$T/err")"
	grep -q "$want" "$T/err" || fail "$what: '$want' not named: $(cat "$T/err")"
	grep -q -- "--no-runtime" "$T/err" || fail "$what: no hint: $(cat "$T/err")"
	[[ ! -e $SOCK && ! -e $SDIR/leases.json ]] || fail "$what: touched something"
	ok "$what: $(grep -o 'needs privileges.*' "$T/err" | head -c 160)…"
}
refused "without CAP_NET_ADMIN" "CAP_NET_ADMIN (bridges" \
	--inh-caps=-net_admin --ambient-caps=-net_admin --bounding-set=-net_admin
! grep -q "CAP_SYS_ADMIN" "$T/err" || fail "CAP_SYS_ADMIN named though held: $(cat "$T/err")"

mkdir -p "$T/nobody"
chown nobody "$T/nobody"
chmod 755 "$T"
SOCK=$T/nobody/pv-ctrl SDIR=$T/nobody/state
refused "as nobody" "CAP_NET_ADMIN.*CAP_SYS_ADMIN.*CAP_SYS_PTRACE" \
	--reuid=nobody --regid=nogroup --clear-groups

# --no-runtime: the control plane alone needs no privilege.
setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$SOCK" --state-dir "$SDIR" \
	--no-runtime 2>>"$LOG" &
CTRLD=$!
OWN_PIDS+=("$CTRLD")
for ((i = 0; i < 100; i++)); do
	[[ -S $SOCK ]] && api -o /dev/null http://pvx/xconnect-graph 2>/dev/null && break
	kill -0 "$CTRLD" 2>/dev/null || fail "--no-runtime as nobody: exited"
	sleep 0.05
done
api -o /dev/null http://pvx/xconnect-graph || fail "--no-runtime as nobody: no answer"
stop_ctrld
ok "--no-runtime as nobody: serves"
