#!/usr/bin/env bash
# Issue 2, done-when 5: the control socket survives garbage. Non-HTTP
# bytes, a 1 MiB header, unknown paths (404), wrong methods (405), bodies
# over the limit (413), bad request bodies, silent and half-sent clients:
# each gets its answer or is closed, the daemon keeps serving others. The
# socket file is mode 0600; a second daemon refuses the live socket; a
# stale one is replaced.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid
CT=example-nginx-ingress
start_ctrld "$EX"

[[ $(stat -c %a "$SOCK") == 600 ]] || fail "socket mode $(stat -c %a "$SOCK")"
ok "socket file mode 0600"

serves() { # serves WHAT: the daemon is alive and answers a GET
	alive "$1"
	[[ $(status_of http://pvx/xconnect-graph) == 200 ]] ||
		fail "no answer after $1"
}

# raw NAME: sends stdin's bytes on a fresh connection, prints the first
# line of the answer ("<closed>" if none) within 5 s.
cat >"$T/raw.py" <<'PY'
import socket, sys
data = sys.stdin.buffer.read()
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
try:
    s.sendall(data)
except OSError:
    pass  # the server may answer and close before reading it all
buf = b""
try:
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
except OSError:
    pass
print(buf.split(b"\r\n")[0].decode("latin1") if buf else "<closed>")
PY
raw() { "$PY" "$T/raw.py" "$SOCK"; }

# Non-HTTP bytes.
line=$(head -c 4096 /dev/urandom | { cat; printf '\r\n\r\n'; } | raw)
[[ $line == "HTTP/1.1 400"* || $line == "<closed>" ]] || fail "random bytes: $line"
serves "random bytes"
line=$(printf 'HELLO\r\n\r\n' | raw)
[[ $line == "HTTP/1.1 400"* ]] || fail "non-HTTP line: $line"
line=$(printf 'GET / HTTP/9.9\r\n\r\n' | raw)
[[ $line == "HTTP/1.1 400"* || $line == "HTTP/1.1 404"* || $line == "<closed>" ]] ||
	fail "bad version: $line"
serves "non-HTTP requests"
ok "non-HTTP bytes: 400 or closed, daemon serves on ($line)"

# A 1 MiB header.
line=$("$PY" -c 'import sys; sys.stdout.buffer.write(b"GET /xconnect-graph HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (1 << 20) + b"\r\n\r\n")' | raw)
[[ $line =~ ^HTTP/1.1\ (400|413|431) || $line == "<closed>" ]] || fail "1 MiB header: $line"
serves "a 1 MiB header"
line=$("$PY" -c 'import sys; sys.stdout.buffer.write(b"GET /xconnect-graph HTTP/1.1\r\n" + b"X-H: v\r\n" * 20000 + b"\r\n")' | raw)
[[ $line =~ ^HTTP/1.1\ (400|413|431) || $line == "<closed>" ]] || fail "many headers: $line"
serves "many headers"
ok "1 MiB of headers: refused ($line), daemon serves on"

# Unknown paths: 404 with a JSON error.
for p in /nope / /containers/ /containers/a/b /xconnect-graph/x "/containers/%2e%2e" /state/reload/x; do
	code=$(status_of "http://pvx$p")
	[[ $code == 404 ]] || fail "GET $p: HTTP $code, want 404"
	"$PY" -c 'import json,sys; assert "error" in json.load(open(sys.argv[1]))' "$T/body" ||
		fail "GET $p: not a JSON error: $(cat "$T/body")"
done
code=$(status_of "http://pvx/containers/no-such")
[[ $code == 404 ]] || fail "unknown container: $code"
ok "unknown paths and containers: 404 with {\"error\"}"

# Wrong methods: 405 with Allow.
check405() { # METHOD PATH ALLOW
	local hdr
	hdr=$(api -X "$1" -D - -o "$T/body" "http://pvx$2" | tr -d '\r')
	grep -q '^HTTP/1.1 405' <<<"$hdr" || fail "$1 $2: $(head -1 <<<"$hdr")"
	grep -qi "^allow: $3\$" <<<"$hdr" || fail "$1 $2: Allow header: $hdr"
	grep -q '"error"' "$T/body" || fail "$1 $2: body $(cat "$T/body")"
}
check405 DELETE /xconnect-graph "GET, HEAD"
check405 POST /xconnect-graph "GET, HEAD"
check405 PUT /containers "GET, HEAD"
check405 POST /state "PUT"
check405 GET /state "PUT"
check405 GET /state/reload "POST"
check405 PATCH /containers/$CT "GET, HEAD, PUT"
check405 OPTIONS /state/reload "POST"
serves "wrong methods"
ok "wrong methods: 405 with Allow"

# Bodies over the 1 MiB limit: 413, with and without Expect: 100-continue.
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T/big"
code=$(status_of -X PUT --data-binary @"$T/big" http://pvx/state)
[[ $code == 413 ]] || fail "big body (Expect): HTTP $code"
code=$(status_of -X PUT -H 'Expect:' --data-binary @"$T/big" http://pvx/state)
[[ $code == 413 ]] || fail "big body (no Expect): HTTP $code"
head -c $((8 * 1024 * 1024)) /dev/zero >"$T/big8"
code=$(status_of -X PUT -H 'Expect:' --data-binary @"$T/big8" "http://pvx/containers/$CT")
[[ $code == 413 ]] || fail "8 MiB body: HTTP $code"
serves "bodies over the limit"
# Just under the limit is read (and refused as a state, not as a size).
head -c $((1024 * 1024 - 16)) /dev/zero | tr '\0' ' ' >"$T/almost"
code=$(status_of -X PUT --data-binary @"$T/almost" http://pvx/state)
[[ $code == 400 ]] || fail "1 MiB - 16 body: HTTP $code"
ok "bodies over 1 MiB: 413; daemon serves on"

# Bad bodies for PUT /containers/<name>.
bad_body() { # EXPECTED_CODE BODY
	local code
	code=$(status_of -X PUT --data-binary "$2" "http://pvx/containers/$CT")
	[[ $code == "$1" ]] || fail "PUT body $2: HTTP $code, want $1: $(cat "$T/body")"
	grep -q '"error"' "$T/body" || fail "PUT body $2: $(cat "$T/body")"
}
bad_body 400 'not json'
bad_body 400 ''
bad_body 400 '[1]'
bad_body 400 '{}'
bad_body 400 '{"pid": "12"}'
bad_body 400 '{"pid": -1}'
bad_body 400 '{"pid": 0}'
bad_body 400 '{"pid": 1.5}'
bad_body 400 '{"pid": 99999999999}'
bad_body 400 '{"pid": 2147483647}'
bad_body 400 '{"pid": 1, "action": "stop"}'
bad_body 400 '{"pid": 1, "pid": 2}'
bad_body 400 '{"action": 7}'
bad_body 400 '{"action": "dance"}'
bad_body 409 '{"action": "stop"}'
code=$(status_of -X PUT --data-binary '{"pid": 1}' "http://pvx/containers/no-such")
[[ $code == 404 ]] || fail "adopt unknown container: HTTP $code"
serves "bad bodies"
ok "bad PUT /containers bodies: 400/404/409 with {\"error\"}"

# Silent and half-sent clients held open while others are served; the
# idle timeout (10 s) closes them.
"$PY" - "$SOCK" "$PVX_BIN/pvcontrol" >"$T/silent.out" <<'PY' || fail "silent clients: $(cat "$T/silent.out")"
import socket, subprocess, sys, time
path, pvcontrol = sys.argv[1], sys.argv[2]
held = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    held.append(s)
half = socket.socket(socket.AF_UNIX)
half.connect(path)
half.sendall(b"GET /xconnect-graph HTTP/1.1\r\nHost: x\r\n")  # never ends
held.append(half)
t0 = time.monotonic()
r = subprocess.run([pvcontrol, "--ctrl", path, "graph", "ls"],
                   capture_output=True, timeout=10)
dt = time.monotonic() - t0
assert r.returncode == 0, r
# Served while they were still held: had the request waited for the
# idle timeout to free the daemon, the silent clients would be closed.
for s in held:
    s.setblocking(False)
    try:
        data = s.recv(4096)
        raise AssertionError(f"a silent client was closed before the request was served ({dt:.1f} s)")
    except BlockingIOError:
        pass
    s.setblocking(True)
print(f"served in {dt * 1000:.0f} ms while {len(held)} clients were silent")
# All of them are closed by the daemon within its idle timeout.
deadline = time.monotonic() + 16
for s in held:
    s.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        data = s.recv(4096)
    except socket.timeout:
        sys.exit("a silent client was still open after 16 s")
    except OSError:
        data = b""
    assert data == b"" or data.startswith(b"HTTP/1.1 "), data[:80]
    s.close()
print(f"all closed after {time.monotonic() - t0:.1f} s")
PY
serves "silent clients"
ok "silent clients: $(tr '\n' ';' <"$T/silent.out")"

# Keep-alive: several requests on one connection.
api -o /dev/null -o /dev/null -o /dev/null -w '%{http_code}\n' \
	http://pvx/xconnect-graph http://pvx/containers http://pvx/nope >"$T/ka"
[[ $(tr '\n' ' ' <"$T/ka") == "200 200 404 " ]] || fail "keep-alive: $(cat "$T/ka")"
ok "keep-alive connection: requests answered in turn"

# A bounded storm of garbage connections.
"$PY" - "$SOCK" <<'PY' || fail "storm"
import os, socket, sys, time
t_end = time.monotonic() + 10
for i in range(300):
    if time.monotonic() > t_end:
        break
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    try:
        s.sendall(os.urandom(512) if i % 2 else b"GET /" + b"x" * 9000 + b" HTTP/1.1\r\n\r\n")
    except OSError:
        pass
    s.close()
PY
serves "a storm of 300 garbage connections"
ok "300 garbage connections: daemon serves on"

# A second daemon on the live socket refuses and leaves it alone.
rc=0
"$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$SOCK" --state-dir "$T/s2" \
	--no-runtime 2>"$T/e2" || rc=$?
[[ $rc != 0 ]] || fail "second daemon started on a live socket"
grep -q "another server answers" "$T/e2" || fail "second daemon: $(cat "$T/e2")"
[[ -S $SOCK ]] || fail "second daemon removed the live socket"
serves "a second daemon refused"
ok "a second daemon refuses the live socket"

# A crashed daemon's stale socket file is replaced at the next start.
kill -KILL "$CTRLD"
wait "$CTRLD" 2>/dev/null || true
[[ -S $SOCK ]] || fail "no stale socket after SIGKILL"
start_ctrld "$EX"
serves "restart over a stale socket"
ok "stale socket replaced after a crash"
stop_ctrld

# A socket path that is not a socket is left alone.
mkdir -p "$T/run"
echo keep >"$T/run/file"
rc=0
"$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$T/run/file" --state-dir "$T/s3" \
	--no-runtime 2>/dev/null || rc=$?
[[ $rc != 0 && $(cat "$T/run/file") == keep ]] || fail "non-socket path replaced"
ok "a non-socket file at the socket path is refused, not removed"

# Out of descriptors: with RLIMIT_NOFILE at 24 and 40 clients connected,
# accepting pauses instead of spinning; service resumes when they go.
(
	ulimit -n 24
	exec "$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$SOCK" \
		--state-dir "$SDIR" --no-runtime 2>>"$LOG"
) &
CTRLD=$!
OWN_PIDS+=("$CTRLD")
for ((i = 0; i < 100; i++)); do
	[[ -S $SOCK ]] && break
	sleep 0.05
done
"$PY" - "$SOCK" "$CTRLD" <<'PY' || fail "EMFILE: see above"
import socket, subprocess, sys, time
path, pid = sys.argv[1], sys.argv[2]
def cpu():
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / 100
held = []
for i in range(40):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)  # queued in the backlog past the limit
    held.append(s)
time.sleep(0.3)
c0 = cpu()
time.sleep(2)
used = cpu() - c0
print(f"cpu {used:.2f} s over 2 s at EMFILE")
assert used < 0.5, f"daemon spins at EMFILE: {used:.2f} s of CPU in 2 s"
for s in held:
    s.close()
time.sleep(0.5)
r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                    "--max-time", "5", "--unix-socket", path,
                    "http://pvx/xconnect-graph"], capture_output=True)
assert r.stdout == b"200", r
PY
grep -q "Too many open files" "$LOG" || fail "EMFILE not logged"
serves "EMFILE"
ok "out of descriptors: no spinning, service resumes"
stop_ctrld
