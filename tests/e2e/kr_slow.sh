# Issue 10, fact 1: no unbounded kernel memory behind a slow reader. A
# client, after a hello that put the session on the kernel path, pushes as
# fast as it can for 2 s to a backend that reads nothing yet (then reads
# all): on the kernel path the in-flight budget passes the
# bytes back to the source socket and TCP pushes the client back, so it
# gets about as far as through the splice relay (socket buffers plus one
# budget), kernel TCP memory (/proc/net/sockstat) stays within the same
# bound, pv-xconnect's RSS flat, and the backend gets every byte (sha256).
source "$(dirname "$0")/lib/xc_tcp_lib.sh"
source "$(dirname "$0")/lib/kr_lib.sh"

spawn sink "$PY" -u "$KP" stall-sink 127.0.0.1:0 --delay 4
wait_ready sink
SINK=$READY
P=$(freeport)
write_graph "$(link_json kw "127.0.0.1:$P" "127.0.0.1:$SINK")"

tcp_mem_pages() { awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat; }

# flood MODE: sets TAKEN (bytes the client could push in 2 s), MEM (TCP
# memory growth meanwhile, in pages) and RSS (pv-xconnect's, kB).
flood() {
	start_xc "--kernel-relay=$1"
	wait_listen "$P"
	[[ $1 == off ]] || kr_require
	local m0 rss0
	m0=$(tcp_mem_pages)
	rss0=$(proc_kb "$XC_PID" VmRSS)
	coproc FL { exec "$PY" -u "$KP" flood "127.0.0.1:$P" --seconds 2 --total $((64 << 20)); }
	PIDS+=("$FL_PID")
	read -r -t 30 word TAKEN <&"${FL[0]}" || fail "$1: no FLOOD line"
	[[ $word == FLOOD ]] || fail "$1: '$word'"
	MEM=$(($(tcp_mem_pages) - m0))
	RSS=$(($(proc_kb "$XC_PID" VmRSS) - rss0))
	echo go >&"${FL[1]}"
	local out
	out=$(timeout 60 cat <&"${FL[0]}") || true
	wait "$FL_PID" || fail "$1: flood: $out"
	log "$1: client pushed $TAKEN bytes in 2 s, TCP memory +$MEM pages, RSS +$RSS kB"
	stop_xc
}

flood off
OFF_TAKEN=$TAKEN
flood on
grep -q 'session on the kernel path link=kw' "$TMP/xc.log" || fail "the session did not go on the kernel path"
grep -q 'dir=in kernel=[1-9]' "$TMP/xc.log" || fail "the program moved nothing"
# Without the budget the program would take everything the client sends
# (hundreds of MiB in 2 s); with it, socket buffers and one budget.
((TAKEN < 32 << 20)) || fail "on: the client pushed $TAKEN bytes: no backpressure"
((TAKEN < OFF_TAKEN + (8 << 20))) || fail "on: $TAKEN bytes, far beyond the splice relay's $OFF_TAKEN"
((MEM < 16384)) || fail "on: TCP memory grew by $MEM pages"
((RSS < 16384)) || fail "on: pv-xconnect's RSS grew by $RSS kB"
