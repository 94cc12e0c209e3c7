# Issue 10: the kernel relay's detection at start. --kernel-relay=off says
# so; =on without CAP_BPF / CAP_NET_ADMIN logs one warning with the reason
# and the link relays in user space all the same; =on with them is active.
# GET /sessions shows the relay's state and each session's mode.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"
source "$(dirname "$0")/lib/kr_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
P=$(freeport)
write_graph "$(link_json kd "127.0.0.1:$P" "127.0.0.1:$BE")"

# run MODE EXPECTED-LINE ACTIVE: one pv-xconnect, its start line, status,
# and a byte-exact round trip through the link.
run() {
	start_xc "--kernel-relay=$1" --first-byte-timeout 0
	wait_listen "$P"
	if [[ $3 == True ]] && grep -q 'kernel relay: off' "$TMP/xc.log"; then
		echo "SKIPPED: BPF sockmap unavailable here: $(grep 'kernel relay:' "$TMP/xc.log")"
		exit 77
	fi
	grep -q "$2" "$TMP/xc.log" || fail "--kernel-relay=$1: no line '$2' in the log"
	[[ $(grep -c 'kernel relay:' "$TMP/xc.log") == 1 ]] || fail "more than one kernel relay line"
	[[ $(sessions_py 's["kernel_relay"]["active"]') == "$3" ]] ||
		fail "--kernel-relay=$1: kernel_relay.active is not $3"
	[[ $(sessions_py 's["kernel_relay"]["mode"]') == "$1" ]] || fail "kernel_relay.mode"
	timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P" --bytes $((256 << 10)) --conns 2 ||
		fail "--kernel-relay=$1: round trip"
	[[ $(status_field kd failed) == 0 ]] || fail "a session failed"
	[[ -n $(status_field kd kernel_sessions) ]] || fail "no kernel_sessions in /links"
	# A session held open is listed with its link, client and mode.
	exec {hold}> >(exec "$PY" "$PEERS" hold "127.0.0.1:$P" --conns 1 >"$TMP/hold.out")
	for ((i = 0; i < 100; i++)); do
		[[ $(sessions_py 'len(s["sessions"])') == 1 ]] && break
		sleep 0.05
	done
	[[ $(sessions_py 's["sessions"][0]["link"]') == kd ]] || fail "/sessions: link"
	[[ $(sessions_py 's["sessions"][0]["backend"]') == "127.0.0.1:$BE" ]] || fail "/sessions: backend"
	[[ $(sessions_py 's["sessions"][0]["client"]') == 127.0.0.1:* ]] || fail "/sessions: client"
	[[ $(sessions_py 's["sessions"][0]["mode"] in ("kernel","splice","copy")') == True ]] ||
		fail "/sessions: mode"
	exec {hold}>&-
	stop_xc
}

log "off: says so, relays in user space"
run off 'info kernel relay: off (--kernel-relay=off)' False
log "on without CAP_BPF and CAP_NET_ADMIN: one warning, the link works"
XC_WRAP=(setpriv --bounding-set -bpf,-net_admin,-sys_admin,-perfmon --)
run on 'warn kernel relay: off (load: not permitted' False
XC_WRAP=()
log "on with them: active"
run on 'info kernel relay: on' True
log "auto: active"
run auto 'info kernel relay: on (auto)' True
