# shellcheck shell=bash
# Shared part of the xc_http_* end-to-end tests (sourced): builds on
# xc_tcp_lib.sh (private network namespace, PID bookkeeping, cleanup trap)
# and adds http links and a small HTTP/1.1 backend that reports what it
# received (path, headers, body digest) and can upgrade to an echo tunnel.
# shellcheck source=tests/e2e/lib/xc_tcp_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/xc_tcp_lib.sh"

# http_link NAME TARGET SOCKET [ROLE [CONSUMER_PID]]: one http link.
http_link() {
	printf '{"type":"http","name":"%s","consumer":"EXTERNAL","consumer_pid":%d,' "$1" "${5:-0}"
	printf '"provider":"test","provider_pid":0,"role":"%s",' "${4:-EXTERNAL}"
	printf '"interface":"","target":"%s","socket":"%s"}' "$2" "$3"
}

cat >"$TMP/httpbe.py" <<'PY'
# httpbe.py TAG ADDR: an HTTP/1.1 backend. Every answer is JSON:
# {"tag", "method", "path", "headers", "len", "sha256"} of what arrived
# (bodies by Content-Length or chunked, hashed while read). Paths:
# /slow* reads a sized body at about 10 MB/s; /big?n=N answers N bytes (close-delimited, no length); a request with
# Upgrade (or to /force101) gets 101 and an echo ("echo:" before each
# piece read; to /sink*, no echo); anything else the JSON above.
import hashlib, json, socket, sys, threading, time
tag, addr = sys.argv[1], sys.argv[2]
if addr.startswith("/"):
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(addr)
else:
    host, _, port = addr.rpartition(":")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
ls.listen(64)
print(f"READY {ls.getsockname()[1] if not addr.startswith('/') else addr}", flush=True)

def serve(c):
    f = c.makefile("rwb")
    line = f.readline().decode()
    if not line:
        return
    method, path, _ = line.split(" ", 2)
    hdrs = []
    while True:
        h = f.readline().decode()
        if h in ("\r\n", "\n", ""):
            break
        k, _, v = h.partition(":")
        hdrs.append([k.strip(), v.strip()])
    low = {k.lower(): v for k, v in hdrs}
    d = hashlib.sha256(); n = 0
    slow = path.startswith("/slow")
    if "content-length" in low:
        left = int(low["content-length"])
        while left:
            b = f.read(min(left, 65536)); d.update(b); n += len(b); left -= len(b)
            if slow:
                time.sleep(0.005)
    elif low.get("transfer-encoding", "").lower() == "chunked":
        while True:
            sz = int(f.readline().split(b";")[0], 16)
            if sz == 0:
                while f.readline() not in (b"\r\n", b""):
                    pass
                break
            b = f.read(sz); d.update(b); n += len(b); f.readline()
    if low.get("upgrade") or path.startswith("/force101"):
        f.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: " +
                low.get("upgrade", "x").encode() + b"\r\nConnection: Upgrade\r\n\r\n")
        f.flush()
        while True:
            b = c.recv(65536)
            if not b:
                break
            if not path.startswith("/sink"):
                c.sendall(b"echo:" + b)
        return
    if path.startswith("/big"):
        total = int(path.split("n=")[1])
        f.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n")
        chunk = bytes(range(256)) * 256
        while total:
            k = min(total, len(chunk)); f.write(chunk[:k]); total -= k
        f.flush()
        return
    body = json.dumps({"tag": tag, "method": method, "path": path,
                       "headers": hdrs, "len": n,
                       "sha256": d.hexdigest()}).encode()
    f.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body))
    f.write(body)
    f.flush()

def run(c):
    try:
        serve(c)
    except Exception as e:
        print("ERR", e, flush=True)
    finally:
        c.close()

while True:
    c, _ = ls.accept()
    threading.Thread(target=run, args=(c,), daemon=True).start()
PY

# http_backend NAME TAG [ADDR]: an httpbe.py on ADDR (default a free
# loopback port); sets READY to its port (or path).
http_backend() {
	spawn "$1" "$PY" -u "$TMP/httpbe.py" "$2" "${3:-127.0.0.1:0}"
	wait_ready "$1"
}

# jget JSON KEY: a top-level field; "h:NAME" is the header NAME's value.
jget() {
	"$PY" -c 'import json,sys
d = json.loads(sys.argv[1]); k = sys.argv[2]
if k.startswith("h:"):
    print("\n".join(v for n, v in d["headers"] if n.lower() == k[2:].lower()))
else:
    print(d[k])' "$1" "$2"
}

# code URL [CURL-ARGS...]: the HTTP status curl got (000 on no answer).
code() {
	local url=$1
	shift
	curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$@" "$url" 2>/dev/null || true
}

now_ms() { echo $((${EPOCHREALTIME/./} / 1000)); }
# until_ms MS CMD...: polls CMD every 20 ms for up to MS (1 on timeout).
until_ms() {
	local tmo=$1 t0
	shift
	t0=$(now_ms)
	until "$@"; do
		(($(now_ms) - t0 < tmo)) || return 1
		sleep 0.02
	done
}

cat >"$TMP/raw.py" <<'PY'
# raw.py PORT REQUEST [--body-mib N]: sends REQUEST (Python escapes such as
# \r\n allowed), then N MiB of chunked body if asked, and prints the
# status code of the answer (000 when there is none).
import socket, sys
port, req = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("127.0.0.1", port), timeout=20)
s.sendall(req)
if len(sys.argv) > 4:
    piece = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
    try:
        for _ in range(int(sys.argv[4]) * 16):
            s.sendall(piece)
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
data = b""
try:
    while b"\r\n" not in data:
        b = s.recv(4096)
        if not b:
            break
        data += b
except OSError:
    pass
print(data[9:12].decode() if data.startswith(b"HTTP/1.") else "000")
PY
# raw PORT REQUEST [--body-mib N]: the status code of a hand-made request.
raw() { timeout 30 "$PY" "$TMP/raw.py" "$@"; }
# log_has TEXT: whether pv-xconnect's log holds TEXT (fixed string).
log_has() { grep -qF -- "$1" "$TMP/xc.log"; }

# nginx_conf DIR WORKER_CONNECTIONS <HTTP-BODY: the configuration of a
# test's own nginx (never Debian's service): pid, logs and temp paths in
# DIR, one worker, no daemon; stdin is the inside of its http block.
nginx_conf() {
	cat <<CONF
user root;
worker_processes 1;
master_process off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections $2; }
http {
	client_body_temp_path $1/body;
	proxy_temp_path $1/proxy;
	fastcgi_temp_path $1/fastcgi;
	uwsgi_temp_path $1/uwsgi;
	scgi_temp_path $1/scgi;
$(cat)
}
CONF
}

# nginx_run PORT|SOCKET: runs nginx on $TMP/nginx.conf (nginx_conf, prefix
# $TMP/ngx) and waits until it listens on the TCP port, or the Unix
# socket exists; sets NGINX_PID. A dead nginx fails the test with its log.
nginx_run() {
	local i
	spawn nginx nginx -p "$TMP/ngx" -c "$TMP/nginx.conf" -g 'daemon off;'
	NGINX_PID=$SPAWNED
	for ((i = 0; i < 100; i++)); do
		if [[ $1 == /* ]]; then
			[[ -S $1 ]] && return 0
		else
			[[ -n $(ss -Hltn "sport = :$1") ]] && return 0
		fi
		kill -0 "$NGINX_PID" 2>/dev/null || fail "nginx died: $(cat "$TMP/nginx.out" "$TMP/ngx/error.log" 2>/dev/null)"
		sleep 0.05
	done
	fail "nginx does not listen on $1"
}
