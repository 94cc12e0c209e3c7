# Kernel relay (issue 10), "Done when" 1: a client that is gone before its
# session could be put on the kernel path. While pv-xconnect is stopped
# (SIGSTOP), clients connect (the kernel completes their handshakes) and
# then, before pv-xconnect has accepted them: (1) send a 100 KiB request
# and shut their write side: their sockets are no longer established when
# the proxy gets them, so they cannot be inserted; the session must fall
# back to the splice relay and the client still gets the 1 MiB answer,
# sha256-exact; (2) send bytes and reset; (3) close without a byte. After
# SIGCONT every session ends, nothing is left (sessions, kernel sessions,
# fds) and the next client is served on the kernel path. The same against
# the splice relay beside it.
source "$(dirname "$0")/lib/kt_lib.sh"

start_peer sink sink 127.0.0.1:0 --answer-bytes $((1 << 20)) --log --greet
SINK=$READY
spawn watch "$PY" -u "$KTPEERS" watch 127.0.0.1:0
wait_ready watch
WATCH=$READY
kt_start_both early="127.0.0.1:$SINK" gone="127.0.0.1:$WATCH"

# early ADDR N HOW: N clients that connect, then (HOW) "shut": send 100 KiB
# and SHUT_WR, then read the answer; "rst": send 100 KiB and reset;
# "close": close at once. Prints "SENT" once all did their part, then
# "OK k/N" once the "shut" clients checked their answers.
cat >"$TMP/early.py" <<'PY'
import hashlib, os, socket, struct, sys
sys.path.insert(0, os.environ["PVX_SRC"] + "/tests/e2e/lib")
from peers import pattern
addr, n, how = sys.argv[1], int(sys.argv[2]), sys.argv[3]
host, _, port = addr.rpartition(":")
socks = []
for _ in range(n):
    s = socket.create_connection((host, int(port)), timeout=30)
    data = os.urandom(100 << 10)
    if how != "close":
        s.sendall(data)
    if how == "shut":
        s.shutdown(socket.SHUT_WR)
    elif how == "rst":
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    else:
        s.close()
    socks.append((s, data))
print("SENT", flush=True)
ok = 0
if how == "shut":
    for s, data in socks:
        buf = bytearray()
        while (d := s.recv(1 << 20)):
            buf += d
        line, _, rest = bytes(buf).removeprefix(b"+").partition(b"\n")
        want = f"{len(data)} {hashlib.sha256(data).hexdigest()}".encode()
        ok += line == want and rest == pattern(1 << 20)
else:
    ok = n
print(f"OK {ok}/{n}", flush=True)
sys.exit(0 if ok == n else 1)
PY

for mode in on off; do
	kt_use "$mode"
	fds0=$(kt_fds "$XC_PID")
	sinks0=$({ grep -o 'SINK [0-9]' "$TMP/sink.out" || true; } | wc -l)
	log "$mode: pv-xconnect stopped; 5 clients send+SHUT_WR, 5 send+reset, 5 close"
	kill -STOP "$XC_PID"
	spawn "shut-$mode" "$PY" -u "$TMP/early.py" "127.0.0.1:${KT_PORT[early-$mode]}" 5 shut
	SHUT=$SPAWNED
	spawn "rst-$mode" "$PY" -u "$TMP/early.py" "127.0.0.1:${KT_PORT[gone-$mode]}" 5 rst
	RST=$SPAWNED
	spawn "close-$mode" "$PY" -u "$TMP/early.py" "127.0.0.1:${KT_PORT[gone-$mode]}" 5 close
	CLOSE=$SPAWNED
	for name in "shut-$mode" "rst-$mode" "close-$mode"; do
		for ((i = 0; i < 200; i++)); do
			grep -q '^SENT' "$TMP/$name.out" && break
			sleep 0.05
		done
		grep -q '^SENT' "$TMP/$name.out" || fail "$name: $(cat "$TMP/$name.out")"
	done
	wait "$RST" || fail "rst-$mode: $(cat "$TMP/rst-$mode.out")"
	wait "$CLOSE" || fail "close-$mode: $(cat "$TMP/close-$mode.out")"
	kill -CONT "$XC_PID"
	log "$mode: pv-xconnect continued"
	timeout_s=60
	for ((i = 0; i < timeout_s * 20; i++)); do
		kill -0 "$SHUT" 2>/dev/null || break
		sleep 0.05
	done
	wait "$SHUT" || fail "shut-$mode: $(cat "$TMP/shut-$mode.out")"
	log "$mode: $(tail -n 1 "$TMP/shut-$mode.out")"
	kt_wait_field "early-$mode" active 0
	kt_wait_field "gone-$mode" active 0
	kt_wait_lines "$TMP/sink.out" 'SINK [0-9]' $((sinks0 + 5))
	[[ -z $(kt_sessions "early-$mode")$(kt_sessions "gone-$mode") ]] || fail "$mode: sessions left"
	[[ $(status_field "gone-$mode" kernel_sessions) == 0 ]] || fail "$mode: kernel sessions left"
	for ((i = 0; i < 100; i++)); do
		(($(kt_fds "$XC_PID") <= fds0)) && break
		sleep 0.05
	done
	(($(kt_fds "$XC_PID") <= fds0)) || fail "$mode: $(kt_fds "$XC_PID") sockets, $fds0 before"
	kill -0 "$XC_PID" || fail "$mode: pv-xconnect died"

	log "$mode: the next client is served as before"
	st=()
	[[ $mode == off ]] || st=(--status "$XC_STATUS")
	timeout 30 "$PY" "$KTPEERS" burst "127.0.0.1:${KT_PORT[early-$mode]}" --bytes $((1 << 20)) \
		--answer-bytes $((1 << 20)) --greet "${st[@]}" || fail "$mode: no service after the early closes"
done
