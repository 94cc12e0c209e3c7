# A container cannot use pv-xconnect (root, host mount namespace) to reach
# a socket outside its own root (docs/security.md). Providers export
# symlinks — absolute, relative with "..", through /proc magic links — to
# a "host secret" socket standing in for pv-ctrld's control socket; the
# links serving them must refuse, count a failure, log why, and the host
# socket must never see a connection. The same for a provider without a
# mount namespace of its own, for pv-xconnect's own status socket, and for
# unix listeners created in a consumer (no file created or chmod-ed
# outside its root). Real sockets and symlinks that stay inside the root
# keep working.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

# The "host secret": counts every connection in host.hits.
HOST=$TMP/host.sock
spawn host "$PY" -u -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(64)
print("READY", sys.argv[1], flush=True)
while True:
    c, _ = s.accept()
    with open(sys.argv[2], "a") as f: f.write("hit\n")
    try: c.sendall(b"HOST-SECRET\n")
    except OSError: pass
    c.close()' "$HOST" "$TMP/host.hits"
wait_ready host
: >"$TMP/host.hits"
mkdir -p "$TMP/hostdir"
echo secret >"$TMP/hostfile"
chmod 0600 "$TMP/hostfile"

# make_root DIR: a minimal root (the system's /usr bound in by the
# container itself), with /run and /proc to mount on.
make_root() {
	mkdir -p "$1"/{usr,proc,run,srv,tmp}
	ln -s usr/bin "$1/bin"
	ln -s usr/lib "$1/lib"
	[[ -e /lib64 ]] && ln -s usr/lib64 "$1/lib64"
	cp "$PEERS" "$1/srv/peers.py"
}

# rooted NAME DIR CMD...: CMD chrooted in DIR, in a mount namespace of its
# own holding /usr and /proc; sets HOLDER once it runs in there.
rooted() {
	local name=$1 dir=$2 i
	shift 2
	spawn "$name" unshare --mount --propagation private sh -c \
		'mount --rbind /usr "$0/usr" && mount -t proc proc "$0/proc" && exec chroot "$0" "$@"' \
		"$dir" "$@"
	HOLDER=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		[[ $(readlink "/proc/$HOLDER/root") == "$dir" ]] && return 0
		kill -0 "$HOLDER" 2>/dev/null || fail "$name died: $(cat "$TMP/$name.out")"
		sleep 0.05
	done
	fail "$name not chrooted in $dir after 5 s"
}

# --- providers -------------------------------------------------------------
P=$TMP/proot
make_root "$P"
ln -s "$HOST" "$P/run/abs.sock"
ln -s "../../../../../../../../../..$HOST" "$P/run/rel.sock"
ln -s "/proc/self/root$HOST" "$P/run/self.sock"
ln -s "/proc/1/root$HOST" "$P/run/init.sock"
mkdir -p "$P/run/sub"
ln -s "/proc/self/cwd/../../../..$HOST" "$P/run/sub/cwd.sock"
ln -s real.sock "$P/run/alias.sock"
ln -s /run/real.sock "$P/run/absalias.sock"
rooted prov "$P" /usr/bin/python3 -u /srv/peers.py echo /run/real.sock
PROV=$HOLDER
wait_ready prov "$PROV"

# A provider without a mount namespace or root of its own: nothing to
# confine a symlink to, so none is followed, even one that looks harmless.
mkdir -p "$TMP/shared"
start_peer shecho echo "$TMP/shared/real.sock"
ln -s "$HOST" "$TMP/shared/evil.sock"
ln -s real.sock "$TMP/shared/alias.sock"
spawn shprov sleep 120
SHPROV=$SPAWNED

declare -A PORT
links=()
next_port=20000 # the test has a network namespace of its own
# add_link NAME SOCKET PROVIDER_PID
add_link() {
	PORT[$1]=$((++next_port))
	links+=("$(link_json "$1" "127.0.0.1:${PORT[$1]}" "$2" 0 "$3")")
}
add_link abs /run/abs.sock "$PROV"
add_link rel /run/rel.sock "$PROV"
add_link self /run/self.sock "$PROV"
add_link init /run/init.sock "$PROV"
add_link cwd /run/sub/cwd.sock "$PROV"
add_link shevil "$TMP/shared/evil.sock" "$SHPROV"
add_link shalias "$TMP/shared/alias.sock" "$SHPROV"
add_link status "$TMP/status.sock" "$SHPROV"
add_link status0 "$TMP/status.sock" 0
add_link real /run/real.sock "$PROV"
add_link alias /run/alias.sock "$PROV"
add_link absalias /run/absalias.sock "$PROV"
add_link shreal "$TMP/shared/real.sock" "$SHPROV"

# --- consumers of unix listeners --------------------------------------------
C=$TMP/croot
make_root "$C"
ln -s "$TMP/hostdir" "$C/run/abs"
ln -s "../../../../../../../../..$TMP/hostdir" "$C/run/rel"
ln -s "$TMP/hostfile" "$C/run/final.sock"
rooted cons "$C" /usr/bin/sleep 120
CONS=$HOLDER
mkdir -p "$TMP/cshared"
ln -s "$TMP/hostdir" "$TMP/cshared/link"
spawn shcons sleep 120
SHCONS=$SPAWNED

ulink() { links+=("$(unix_link_json "$1" "$2" "$TMP/shared/real.sock" "$3")"); }
ulink labs /run/abs/x.sock "$CONS"
ulink lrel /run/rel/x.sock "$CONS"
ulink lfinal /run/final.sock "$CONS"
ulink lself "/proc/self/root$TMP/hostdir/x.sock" "$CONS"
ulink lshared "$TMP/cshared/link/x.sock" "$SHCONS"
ulink lok /run/ok/db.sock "$CONS"

write_graph "${links[@]}"
# A path that does not exist (in the root) is held and retried like a
# refused backend: a short connect timeout ends that hold quickly.
start_xc --unix-mode 0666 --connect-timeout 1000
wait_sock "/proc/$CONS/root/run/ok/db.sock"
wait_listen "${PORT[shreal]}"

# ask NAME: sends a line through link NAME, prints what came back.
ask() {
	"$PY" - "${PORT[$1]}" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
try:
    s.sendall(b"ping\n")
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        d = s.recv(4096)
        if not d:
            break
        out += d
    print(out.decode(errors="replace").strip())
except OSError as e:
    print("error", e)
EOF
}

failed_counted() { (($(status_field "$1" failed) >= 1)); }
# The refusal log line is rate-limited to one a second, whatever the link:
# the two whose words are checked go first, a second apart.
for l in shevil status abs rel self init cwd status0 shalias; do
	[[ $l == status ]] && sleep 1.2
	got=$(ask "$l")
	[[ $got != *HOST-SECRET* && $got != *ping* ]] || fail "link $l reached a socket outside the provider's root: '$got'"
	sb_wait_for "link $l counts the refusal" 20 failed_counted "$l"
	log "link $l refused"
done
[[ ! -s $TMP/host.hits ]] || fail "the host socket saw $(wc -l <"$TMP/host.hits") connection(s)"
grep -q 'reason="socket path \(uses a link that may not be followed\|leads out of\)' "$TMP/xc.log" ||
	fail "no log line saying why the path was refused"
grep -q "pvx's own control or status socket" "$TMP/xc.log" ||
	fail "no log line for the status socket refusal"

for l in real alias absalias shreal; do
	got=$(ask "$l")
	[[ $got == ping ]] || fail "link $l to a socket inside the root: got '$got', want ping"
done
log "real sockets and symlinks inside the root still work"

# Listeners: the good one works, the others are refused and leave nothing
# outside the consumer's root.
"$PY" "$PEERS" client "/proc/$CONS/root/run/ok/db.sock" --bytes 1000 --conns 1 ||
	fail "round trip through the listener in the consumer's root"
[[ $(stat -c %a "/proc/$CONS/root/run/ok/db.sock") == 666 ]] || fail "listener mode not 666"
for l in labs lrel lfinal lself lshared; do
	[[ $(status_field "$l" state) == failed ]] ||
		fail "listener $l: state $(status_field "$l" state), want failed"
done
[[ -z $(ls -A "$TMP/hostdir") ]] || fail "a listener was created outside the root: $(ls -A "$TMP/hostdir")"
[[ $(stat -c %a "$TMP/hostfile") == 600 && $(cat "$TMP/hostfile") == secret ]] ||
	fail "the host file behind a symlink was changed"
[[ -L $C/run/final.sock ]] || fail "the consumer's symlink was removed"
status_field lfinal error | grep -q "symlink" || fail "lfinal: no reason naming the symlink"
status_field lshared error | grep -q "link that may not be followed" ||
	fail "lshared: no reason naming the refused link: $(status_field lshared error)"
log "listeners confined to the consumer's root"
[[ ! -s $TMP/host.hits ]] || fail "the host socket saw a connection"
