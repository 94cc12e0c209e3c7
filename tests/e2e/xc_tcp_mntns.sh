# Issue 3, "Done when" 2: a Unix backend given with a provider_pid is
# reached through /proc/<pid>/root: the socket exists only inside a private
# mount namespace of that pid (a tmpfs mounted there), and the proxy still
# reaches it; also when /proc/<pid>/root<path> is too long for sun_path.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

MNT=$TMP/mnt
mkdir -p "$MNT"
spawn mnt-echo unshare --mount --propagation private sh -c \
	"mount -t tmpfs pvx-xctcp $MNT && exec $PY -u $PEERS echo $MNT/s.sock"
PROV=$SPAWNED
wait_ready mnt-echo
[[ ! -e $MNT/s.sock ]] || fail "$MNT/s.sock is visible outside the provider's mount namespace"
[[ -S /proc/$PROV/root$MNT/s.sock ]] || fail "no socket at /proc/$PROV/root$MNT/s.sock"

# A second server in the same mount namespace at a path that, under
# /proc/<pid>/root, is longer than sun_path (108 bytes).
LONGDIR=$MNT/$(printf 'd%.0s' {1..40})/$(printf 'e%.0s' {1..20})
LONG=$LONGDIR/s.sock
nsenter --mount="/proc/$PROV/ns/mnt" mkdir -p "$LONGDIR"
spawn long-echo nsenter --mount="/proc/$PROV/ns/mnt" "$PY" -u "$PEERS" echo "$LONG"
wait_ready long-echo
((${#LONG} < 108 && ${#LONG} + ${#PROV} + 11 >= 108)) ||
	fail "test bug: path length ${#LONG} does not exercise the long path"

P1=$(freeport)
P2=$(freeport)
P3=$(freeport)
write_graph "$(link_json mnt-pid "127.0.0.1:$P1" "$MNT/s.sock" 0 "$PROV")" \
	"$(link_json mnt-nopid "127.0.0.1:$P2" "$MNT/s.sock" 0 0)" \
	"$(link_json mnt-long "127.0.0.1:$P3" "$LONG" 0 "$PROV")"
# A missing socket file holds a client until the connect timeout (issue
# 9): 1 s here.
start_xc --connect-timeout 1000
wait_listen "$P1"
wait_listen "$P3"

log "through provider_pid $PROV's root to $MNT/s.sock"
timeout 30 "$PY" "$PEERS" client "127.0.0.1:$P1" --bytes $((1 << 20)) --conns 10 ||
	fail "backend in the provider's mount namespace not reached"
log "through a /proc/$PROV/root path longer than sun_path"
timeout 30 "$PY" "$PEERS" client "127.0.0.1:$P3" --bytes $((1 << 20)) --conns 2 ||
	fail "long backend path not reached"
log "the same path without provider_pid does not exist here: held, closed at the timeout"
timeout 10 "$PY" "$PEERS" expect-close "127.0.0.1:$P2" --within 8 ||
	fail "link without provider_pid should fail"
[[ $(status_field mnt-nopid failed) -ge 1 ]] || fail "failed counter not counted"
