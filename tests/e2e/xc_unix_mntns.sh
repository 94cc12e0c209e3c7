# The unix plugin with a consumer_pid: the listening socket is created
# inside the consumer's private mount namespace (a tmpfs mounted there
# only), visible under /proc/<pid>/root and absent from the host's view of
# the same directory; a client inside that namespace reaches the backend
# through it; --unix-mode sets the socket's mode. A new consumer_pid moves
# it to the new namespace; removal deletes the file inside the namespace.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

DIR=$TMP/cns
mkdir -p "$DIR"

# consumer NAME: a process in a private mount namespace with a tmpfs on
# $DIR; sets HOLDER once its namespace differs and the mount is done.
consumer() {
	local i
	spawn "$1" unshare --mount --propagation private sh -c \
		"mount -t tmpfs pvx-xcunix $DIR && exec sleep 60"
	HOLDER=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		if [[ $(readlink "/proc/$HOLDER/ns/mnt") != $(readlink /proc/self/ns/mnt) &&
			$(cat "/proc/$HOLDER/comm" 2>/dev/null) == sleep ]]; then
			return 0
		fi
		kill -0 "$HOLDER" 2>/dev/null || fail "consumer $1 died: $(cat "$TMP/$1.out")"
		sleep 0.05
	done
	fail "consumer $1 not in its own mount namespace after 5 s"
}
consumer c1
C1=$HOLDER
consumer c2
C2=$HOLDER

start_peer unix-echo echo "$TMP/be.sock"
SOCK=$DIR/run/app.sock

write_graph "$(unix_link_json app "$SOCK" "$TMP/be.sock" "$C1")"
start_xc --unix-mode 0660
wait_sock "/proc/$C1/root$SOCK"
[[ $(stat -c %a "/proc/$C1/root$SOCK") == 660 ]] ||
	fail "socket mode $(stat -c %a "/proc/$C1/root$SOCK"), want 660 (--unix-mode)"
[[ ! -e $SOCK && ! -e $DIR/run ]] || fail "$SOCK created in the host's mount namespace"
[[ ! -e /proc/$C2/root$SOCK ]] || fail "$SOCK created in the other consumer's namespace"
[[ $(status_field app state) == listening ]] || fail "link app not listening"

log "a client inside pid $C1's mount namespace reaches the backend"
timeout 30 nsenter --mount="/proc/$C1/ns/mnt" "$PY" "$PEERS" client "$SOCK" \
	--bytes $((1 << 20)) --conns 10 || fail "round trip inside the consumer's namespace"
[[ $(status_field app accepted) -eq 10 ]] ||
	fail "accepted $(status_field app accepted), want 10"

log "consumer_pid $C1 -> $C2: the listener moves"
write_graph "$(unix_link_json app "$SOCK" "$TMP/be.sock" "$C2")"
wait_sock "/proc/$C2/root$SOCK"
wait_gone "/proc/$C1/root$SOCK" 2
grep -q "link=app: listener $SOCK moved to mount namespace of pid $C2" "$TMP/xc.log" ||
	fail "no log line of the move"
timeout 30 nsenter --mount="/proc/$C2/ns/mnt" "$PY" "$PEERS" client "$SOCK" \
	--bytes $((1 << 20)) --conns 2 || fail "round trip after the move"

log "the link leaves the graph: the socket file goes from the namespace"
write_graph
wait_gone "/proc/$C2/root$SOCK" 2
[[ -d /proc/$C2/root$DIR/run ]] || fail "directory above the socket removed"
