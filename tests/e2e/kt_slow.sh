# Kernel relay (issue 10), "Done when" 1: a slow reader is bounded. A
# backend reads 400 KB/s while the client pushes as fast as it can, up to
# 256 MiB, for 4 s, first through the splice relay, then through the
# kernel path (the same test, the same traffic). Without backpressure the
# kernel path would accept all of it at once and hold it in memory charged
# to no socket; bounded, it holds what the splice relay holds, give or
# take the in-flight budget:
#   - bytes the client got accepted but the backend has not read
#     (exact, this connection only) stay under 48 MiB;
#   - the kernel's TCP memory (/proc/net/sockstat "mem": kernel-wide, not
#     per network namespace, so other work on the machine adds to it)
#     grows by at most 64 MiB and by no more than the splice run's growth
#     plus 32 MiB, and falls back once the session is closed;
#   - pv-xconnect's RSS grows by under 16 MiB.
source "$(dirname "$0")/lib/kt_lib.sh"

MIB=$((1 << 20))
declare -A P=([on]=$(freeport) [off]=$(freeport))
declare -A BE=([on]=$(freeport) [off]=$(freeport))
for mode in on off; do
	kt_use "$mode"
	write_graph "$(link_json "slow-$mode" "127.0.0.1:${P[$mode]}" "127.0.0.1:${BE[$mode]}")"
	kt_start "$mode"
	wait_listen "${P[$mode]}"
done

# jget JSON KEY
jget() { "$PY" -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
declare -A MEM=()
for mode in off on; do
	kt_use "$mode"
	st=()
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	log "$mode: 256 MiB offered for 4 s to a backend reading 400 KB/s"
	out=$(timeout 60 "$PY" -u "$KTPEERS" slowpush --backend "127.0.0.1:${BE[$mode]}" \
		--via "127.0.0.1:${P[$mode]}" --rate 400000 --bytes $((256 * MIB)) --seconds 4 \
		--pid "$XC_PID" "${st[@]}") || fail "$mode: slowpush: $out"
	j=$(grep '^SLOW ' <<<"$out") || fail "$mode: $out"
	j=${j#SLOW }
	log "$mode: $j"
	sent=$(jget "$j" sent)
	inflight=$(jget "$j" inflight)
	mem=$(jget "$j" tcp_mem)
	rss=$(jget "$j" rss)
	MEM[$mode]=$mem
	log "$mode: accepted $((sent / MIB)) MiB, at most $((inflight / MIB)) MiB not yet read," \
		"TCP memory +$((mem / MIB)) MiB, RSS +$((rss / 1024)) KiB," \
		"MemAvailable -$(($(jget "$j" avail_drop) / MIB)) MiB (not asserted: machine-wide)"
	((inflight < 48 * MIB)) || fail "$mode: $((inflight / MIB)) MiB accepted but not read: no backpressure"
	((sent < 200 * MIB)) || fail "$mode: the client got $((sent / MIB)) MiB accepted"
	((mem < 64 * MIB)) || fail "$mode: TCP memory grew by $((mem / MIB)) MiB"
	((rss < 16 * MIB)) || fail "$mode: pv-xconnect's RSS grew by $((rss / MIB)) MiB"
	kt_wait_field "slow-$mode" active 0
	# Freed once closed: back under what it was plus 16 MiB.
	base=$(jget "$j" base_tcp_mem)
	page=$(getconf PAGESIZE)
	for ((i = 0; i < 100; i++)); do
		now=$(awk '$1 == "TCP:" { for (i = 2; i < NF; i++) if ($i == "mem") print $(i + 1) }' /proc/net/sockstat)
		((now * page < base + 16 * MIB)) && break
		sleep 0.1
	done
	((now * page < base + 16 * MIB)) ||
		fail "$mode: TCP memory $((now * page / MIB)) MiB after the close, $((base / MIB)) MiB before"
done
((MEM[on] <= MEM[off] + 32 * MIB)) ||
	fail "kernel path: TCP memory +$((MEM[on] / MIB)) MiB against the splice relay's +$((MEM[off] / MIB)) MiB"
kt_use on
k=$(status_field slow-on kernel_bytes_in)
((k > 0)) || fail "slow-on: no byte through the kernel"
