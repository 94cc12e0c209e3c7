# The unix plugin on the host (consumer_pid 0): a Unix listening socket at
# the link's target, parent directories created (0755), socket mode 0666,
# a stale socket file replaced; 20 concurrent connections x 1 MiB echoed
# byte-exact to a Unix and to a TCP backend; the socket file is removed
# when the link leaves the graph, and the others' when pv-xconnect exits.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer unix-echo echo "$TMP/be.sock"
start_peer tcp-echo echo "127.0.0.1:0"
BE_PORT=$READY

U=$TMP/consumer/a/b/u.sock # none of a/, b/ exists
T=$TMP/consumer/t/t.sock
S=$TMP/stale/s.sock
mkdir -p "$TMP/stale"
# A socket file nobody listens on (a crashed listener's leftover).
"$PY" -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$S"
[[ -S $S ]] || fail "test bug: no stale socket at $S"

write_graph "$(unix_link_json to-unix "$U" "$TMP/be.sock")" \
	"$(unix_link_json to-tcp "$T" "127.0.0.1:$BE_PORT")" \
	"$(unix_link_json stale "$S" "$TMP/be.sock")"
# A daemon's strict umask must not leak into what consumers need.
umask 077
start_xc
umask 022
wait_sock "$U"
wait_sock "$T"

[[ $(stat -c %a "$U") == 666 ]] || fail "socket mode $(stat -c %a "$U"), want 666"
for d in "$TMP/consumer/a" "$TMP/consumer/a/b" "$TMP/consumer/t"; do
	[[ $(stat -c %a "$d") == 755 ]] || fail "directory $d has mode $(stat -c %a "$d"), want 755"
done

log "20 x 1 MiB through $U to a Unix backend"
timeout 40 "$PY" "$PEERS" client "$U" --bytes $((1 << 20)) --conns 20 ||
	fail "round trip to the Unix backend"
log "20 x 1 MiB through $T to a TCP backend"
timeout 40 "$PY" "$PEERS" client "$T" --bytes $((1 << 20)) --conns 20 ||
	fail "round trip to the TCP backend"
log "the stale socket at $S was replaced"
timeout 10 "$PY" "$PEERS" client "$S" --bytes 4096 ||
	fail "stale socket not replaced by a live listener"

[[ $(status_field to-unix state) == listening ]] || fail "to-unix not listening"
[[ $(status_field to-unix accepted) -eq 20 ]] ||
	fail "to-unix accepted $(status_field to-unix accepted), want 20"
[[ $(status_field to-tcp bytes_in) -eq $((20 << 20)) ]] ||
	fail "to-tcp bytes_in $(status_field to-tcp bytes_in), want $((20 << 20))"
[[ $(status_field to-tcp bytes_out) -eq $((20 << 20)) ]] ||
	fail "to-tcp bytes_out $(status_field to-tcp bytes_out), want $((20 << 20))"

log "consumer_pid 0 -> a pid in the same mount namespace: the listener stays"
spawn same-ns sleep 60
INO=$(stat -c %i "$T")
write_graph "$(unix_link_json to-unix "$U" "$TMP/be.sock")" \
	"$(unix_link_json to-tcp "$T" "127.0.0.1:$BE_PORT" "$SPAWNED")" \
	"$(unix_link_json stale "$S" "$TMP/be.sock")"
for ((i = 0; i < 40; i++)); do
	[[ $(status_field to-tcp consumer_pid) == "$SPAWNED" ]] && break
	sleep 0.05
done
[[ $(status_field to-tcp consumer_pid) == "$SPAWNED" ]] || fail "update not applied"
[[ $(stat -c %i "$T") == "$INO" ]] || fail "listener rebound for a pid in the same namespace"
! grep -q "link=to-tcp: .*moved" "$TMP/xc.log" || fail "listener moved needlessly"
timeout 10 "$PY" "$PEERS" client "$T" --bytes 4096 || fail "to-tcp after the update"

log "link to-unix leaves the graph: its socket file goes, the others stay"
write_graph "$(unix_link_json to-tcp "$T" "127.0.0.1:$BE_PORT" "$SPAWNED")" \
	"$(unix_link_json stale "$S" "$TMP/be.sock")"
wait_gone "$U" 2
[[ -d $TMP/consumer/a/b ]] || fail "the directory above the socket was removed"
[[ -S $T ]] || fail "$T removed with the other link"
timeout 10 "$PY" "$PEERS" client "$T" --bytes 4096 || fail "to-tcp stopped working"

log "pv-xconnect exits: the remaining socket files go"
stop_xc
wait_gone "$T" 1
wait_gone "$S" 1
[[ -S $TMP/be.sock ]] || fail "the backend's socket was removed"
