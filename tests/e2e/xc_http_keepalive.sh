#!/usr/bin/env bash
# http plugin: backend connection reuse (docs/xconnect.md, "Backend
# keep-alive").
# 1. 2000 keep-alive requests from 8 clients through an http link to a
#    real nginx that logs its $connection: every answer byte-exact (200s of
#    several sizes, HEAD, 404, a chunked answer), nginx sees at most 32
#    distinct connections, and the link counts requests=2000,
#    backend_connects <= 32 and the rest as backend_reused.
# 2. nginx closes idle connections after 1 s (keepalive_timeout 1s) while
#    a client sends GETs with pauses around 1 s: no client-visible error.
# 3. A backend that takes the second request of every connection and then
#    closes without answering: an idempotent GET is retried once on a fresh
#    connection (the client sees 200); a POST or a PUT with a body is never
#    sent twice (on a dropped reused connection the client sees 502; the
#    backend counts each body once).
# Runs in a private network namespace (xc_tcp_lib.sh), loopback only.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed"

# ka_conf PORT KEEPALIVE_TIMEOUT: nginx serving $TMP/www, logging
# "$connection $request_uri $status" per request.
ka_conf() {
	nginx_conf "$TMP/ngx" 256 <<CONF
	log_format conn '\$connection \$request_method \$request_uri \$status';
	access_log $TMP/ngx/access.log conn;
	default_type application/octet-stream;
	keepalive_requests 100000;
	keepalive_timeout $2;
	server {
		listen 127.0.0.1:$1;
		root $TMP/www;
		location = /chunked { chunked_transfer_encoding on; return 200 "chunked-ish\n"; }
	}
CONF
}
start_nginx() { # PORT KEEPALIVE_TIMEOUT
	mkdir -p "$TMP/ngx"
	: >"$TMP/ngx/access.log"
	ka_conf "$1" "$2" >"$TMP/nginx.conf"
	nginx_run "$1"
}
stop_nginx() {
	kill -TERM "$NGINX_PID" 2>/dev/null || true
	wait "$NGINX_PID" 2>/dev/null || true
}

mkdir -p "$TMP/www"
: >"$TMP/www/empty"
printf 'x' >"$TMP/www/one"
head -c 600 /dev/urandom >"$TMP/www/small"
head -c 70000 /dev/urandom >"$TMP/www/mid"
head -c $((256 << 10)) /dev/urandom >"$TMP/www/big"

cat >"$TMP/kaclient.py" <<'PY'
# kaclient.py PORT DIR THREADS PER-THREAD: each thread keeps one HTTP/1.1
# connection and sends PER-THREAD requests over it, cycling through GETs of
# the files in DIR, a HEAD, a 404 and a chunked answer; every answer is
# checked byte-exact. A connection the proxy closes is an error. Prints
# "OK N" or "ERR reason" and exits 1.
import http.client, os, sys, threading
port, root, threads, per = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = {n: open(os.path.join(root, n), "rb").read() for n in ("empty", "one", "small", "mid", "big")}
plan = [("GET", n) for n in files] + [("HEAD", "small"), ("GET", "missing"), ("GET", "chunked")]
errors, done = [], [0]
lock = threading.Lock()
def run(t):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for i in range(per):
        m, n = plan[(t + i) % len(plan)]
        try:
            c.request(m, "/ka/" + n)
            r = c.getresponse()
            body = r.read()
        except Exception as e:
            with lock:
                errors.append(f"thread {t} request {i} {m} {n}: {e!r}")
            return
        if n in files:
            want = b"" if m == "HEAD" else files[n]
            ok = r.status == 200 and body == want
            if m == "HEAD":
                ok = ok and r.getheader("Content-Length") == str(len(files[n]))
        elif n == "missing":
            ok = r.status == 404
        else:
            ok = r.status == 200 and body == b"chunked-ish\n"
        if not ok:
            with lock:
                errors.append(f"thread {t} request {i} {m} {n}: {r.status}, {len(body)} bytes")
            return
        if r.will_close:
            with lock:
                errors.append(f"thread {t} request {i}: the proxy closed the client connection")
            return
        with lock:
            done[0] += 1
ts = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
for t in ts: t.start()
for t in ts: t.join()
if errors:
    print("ERR", errors[:5]); sys.exit(1)
print("OK", done[0])
PY

N=$(freeport)
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P/ka" "127.0.0.1:$N")"

log "1. 2000 keep-alive requests through the link to nginx"
start_nginx "$N" 75s
start_xc
wait_listen "$P"
res=$(timeout 120 "$PY" "$TMP/kaclient.py" "$P" "$TMP/www" 8 250) || fail "client: $res"
[[ $res == "OK 2000" ]] || fail "client: $res"
# nginx logs each request after its answer: wait for all 2000 lines.
for ((i = 0; i < 100; i++)); do
	(($(wc -l <"$TMP/ngx/access.log") >= 2000)) && break
	sleep 0.05
done
lines=$(wc -l <"$TMP/ngx/access.log")
((lines == 2000)) || fail "nginx logged $lines requests, not 2000"
conns=$(awk '{print $1}' "$TMP/ngx/access.log" | sort -u | wc -l)
log "nginx saw $conns connections for 2000 requests"
((conns <= 32)) || fail "nginx saw $conns distinct connections, want <= 32"
req=$(status_field web requests)
bc=$(status_field web backend_connects)
br=$(status_field web backend_reused)
acc=$(status_field web accepted)
log "link: accepted=$acc requests=$req backend_connects=$bc backend_reused=$br"
[[ $req == 2000 ]] || fail "requests=$req, want 2000"
[[ $acc == 8 ]] || fail "accepted=$acc, want 8 (client connections)"
((bc >= 1 && bc <= 32)) || fail "backend_connects=$bc"
((bc == conns)) || fail "backend_connects=$bc but nginx saw $conns connections"
((bc + br == 2000)) || fail "backend_connects + backend_reused = $((bc + br)), want 2000"
curl -sS --unix-socket "$TMP/status.sock" http://x/metrics >"$TMP/metrics"
grep -Eq '^pvx_link_requests_total\{[^}]*name="web"[^}]*\} 2000$' "$TMP/metrics" ||
	fail "no pvx_link_requests_total 2000 in /metrics: $(grep requests "$TMP/metrics")"
grep -Eq "^pvx_link_backend_connects_total\{[^}]*name=\"web\"[^}]*\} $bc\$" "$TMP/metrics" ||
	fail "no pvx_link_backend_connects_total $bc in /metrics"
stop_xc
stop_nginx

log "2. nginx closes idle connections after 1 s; GETs with pauses around 1 s"
start_nginx "$N" 1s
start_xc
wait_listen "$P"
timeout 60 "$PY" - "$P" "$TMP/www/small" <<'PY' || fail "GETs across nginx's idle close"
import http.client, sys, time
port, want = int(sys.argv[1]), open(sys.argv[2], "rb").read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
pauses = [0.9, 1.0, 1.1, 0.95, 1.05, 1.0, 0.98, 1.02, 1.0, 0.0, 1.0, 1.0]
for i, p in enumerate(pauses):
    c.request("GET", "/ka/small")
    r = c.getresponse()
    body = r.read()
    assert r.status == 200 and body == want, f"request {i}: {r.status} {len(body)} bytes"
    assert not r.will_close, f"request {i}: client connection closed"
    time.sleep(p)
print("ok")
PY
br=$(status_field web backend_reused)
log "link: backend_connects=$(status_field web backend_connects) backend_reused=$br"
# The pause-less pair in the middle went over one backend connection.
((br >= 1)) || fail "backend_reused=$br: no connection was reused"
stop_xc
stop_nginx

log "3. a backend that drops the second request of each connection unanswered"
cat >"$TMP/dropbe.py" <<'PY'
# dropbe.py: answers the first request of each connection (keep-alive),
# reads the second one whole (head and body), records its body and closes
# without a byte back. Every body received is appended to bodies.log.
import socket, sys, threading
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
print(f"READY {ls.getsockname()[1]}", flush=True)
def request(f):
    line = f.readline()
    if not line:
        return None
    n = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            n = int(h.split(b":")[1])
    body = f.read(n)
    with lock:
        log.write(f"{line.split()[0].decode()} {body.decode() or '-'}\n")
    return line
def serve(c):
    f = c.makefile("rwb")
    if request(f) is None:
        return
    f.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
    f.flush()
    request(f)
    c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
spawn dropbe "$PY" -u "$TMP/dropbe.py" "$TMP/bodies.log"
wait_ready dropbe
write_graph "$(http_link web "127.0.0.1:$P/ka" "127.0.0.1:$READY")"
start_xc
wait_listen "$P"
timeout 60 "$PY" - "$P" <<'PY' >"$TMP/drop.out" || fail "drop backend: $(cat "$TMP/drop.out")"
import http.client, sys
port = int(sys.argv[1])
def one(c, method, body=None):
    c.request(method, "/ka/x", body=body)
    r = c.getresponse()
    return r.status, r.read()
c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
# GET, GET: the second goes to the reused connection, which drops it: the
# proxy retries it once on a fresh connection, where it is the first.
assert one(c, "GET") == (200, b"first"), "GET 1"
assert one(c, "GET") == (200, b"first"), "GET 2 (retried)"
# GET, POST: the POST may go to a reused connection, which drops it (then
# 502: never resent), or to a fresh one (then answered). The same for a
# PUT with a body: its body went out, so no retry either.
posted = []
for method, body in (("POST", b"post-body-1"), ("PUT", b"put-body-1")):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    assert one(c, "GET") == (200, b"first"), f"GET before {method}"
    st, got = one(c, method, body)
    assert st == 502 or (st, got) == (200, b"first"), f"{method} answered {st} {got!r}"
    posted.append(f"{method}={st}")
print("ok", " ".join(posted))
PY
sort "$TMP/bodies.log" | uniq -c >"$TMP/bodies.count"
log "bodies: $(tr '\n' ';' <"$TMP/bodies.count")"
[[ $(grep -c '^POST post-body-1$' "$TMP/bodies.log") == 1 ]] || fail "POST body received $(grep -c '^POST post-body-1$' "$TMP/bodies.log") times"
[[ $(grep -c '^PUT put-body-1$' "$TMP/bodies.log") == 1 ]] || fail "PUT body received $(grep -c '^PUT put-body-1$' "$TMP/bodies.log") times"
# GET 2 went to the reused connection, was dropped and retried: the
# backend saw more GETs than the client sent (4), the client none of the
# drops.
log "client: $(cat "$TMP/drop.out")"
gets=$(grep -c '^GET' "$TMP/bodies.log")
((gets >= 5)) || fail "backend saw $gets GETs for 4 sent: no retry happened"
stop_xc
log "PASS"
