#!/usr/bin/env bash
# When the http plugin reuses a backend connection and when not (issue 8),
# against a keep-alive backend that logs every request with its
# connection: reused after a well-framed answer; not after the backend's
# `Connection: close` (its socket left open), an HTTP/1.0 answer, or the
# client's `Connection: close`. A kept connection the backend closes after
# reading the request (before any answer byte) is retried once on a new
# connection for GET, HEAD, DELETE and a PUT without body; a POST or a PUT
# whose body was sent gets 502 and reaches the backend once; a retry that
# fails too is a 502. Then, with a backend that closes connections idle
# for 1 s and clients pausing about 1 s: no GET fails and no POST body
# arrives twice. The pool's own idle timeout closes what is left; with
# --http-pool-size 0 each request has a connection of its own.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

cat >"$TMP/kpbe.py" <<'PY'
# kpbe.py ADDR [IDLE_S]: an HTTP/1.1 keep-alive backend. Logs one line per
# request: "REQ c=<conn> n=<nth on conn> <method> <path> len=<body>
# id=<X-Id> conn=<Connection header>", and "EOF c=<conn>" when a
# connection ends. Paths: /drop* (from the 2nd request of a connection) and
# /dropall* read the request, then close without answering; /closehdr
# answers with Connection: close but keeps reading; /http10 answers
# HTTP/1.0 without keep-alive and keeps reading; others 200 with a body
# naming the request. With IDLE_S, a connection idle that long is closed.
import socket, sys, threading
host, _, port = sys.argv[1].rpartition(":")
idle = float(sys.argv[2]) if len(sys.argv) > 2 else None
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((host, int(port))); ls.listen(64)
print(f"READY {ls.getsockname()[1]}", flush=True)
lock = threading.Lock(); nconn = [0]
def log(s):
    with lock:
        print(s, flush=True)
def serve(c, cn):
    f = c.makefile("rwb")
    n = 0
    while True:
        c.settimeout(idle)
        try:
            line = f.readline()
        except (socket.timeout, OSError):
            return
        c.settimeout(None)
        if not line:
            return
        n += 1
        method, path, _ = line.decode().split(" ", 2)
        h = {}
        while True:
            x = f.readline().decode()
            if x in ("\r\n", "\n", ""):
                break
            k, _, v = x.partition(":"); h[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in h:
            body = f.read(int(h["content-length"]))
        elif h.get("transfer-encoding", "").lower() == "chunked":
            while True:
                sz = int(f.readline().split(b";")[0], 16)
                if sz == 0:
                    f.readline(); break
                body += f.read(sz); f.readline()
        log(f"REQ c={cn} n={n} {method} {path} len={len(body)} id={h.get('x-id', '-')} conn={h.get('connection', '-')}")
        if path.startswith("/dropall") or (path.startswith("/drop") and n >= 2):
            return
        out = f"{method} {path} c={cn} n={n}\n".encode()
        if method == "HEAD":
            out_body = b""
        else:
            out_body = out
        if path.startswith("/http10"):
            f.write(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out_body)
        elif path.startswith("/closehdr"):
            f.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(out) + out_body)
        else:
            f.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(out) + out_body)
        f.flush()
def run(c, cn):
    try:
        serve(c, cn)
    except Exception as e:
        log(f"ERR c={cn} {e!r}")
    finally:
        log(f"EOF c={cn}")
        c.close()
while True:
    c, _ = ls.accept()
    with lock:
        nconn[0] += 1; cn = nconn[0]
    threading.Thread(target=run, args=(c, cn), daemon=True).start()
PY

spawn be "$PY" -u "$TMP/kpbe.py" 127.0.0.1:0
wait_ready be
BE=$READY
spawn beidle "$PY" -u "$TMP/kpbe.py" 127.0.0.1:0 1.0
wait_ready beidle
BEI=$READY
P=$(freeport)
write_graph "$(http_link rules "127.0.0.1:$P/r" "127.0.0.1:$BE")" \
	"$(http_link idle "127.0.0.1:$P/i" "127.0.0.1:$BEI")"
# The backend of /i closes idle connections after 1 s, before the pool
# would (1.5 s): that is the race of the second part.
start_xc --http-pool-idle-ms 1500
wait_listen "$P"

cat >"$TMP/seq.py" <<'PY'
# seq.py PORT: requests one after the other on one keep-alive client
# connection (reopened after a close), each line "METHOD PATH [BODY]
# [close]"; prints "<status> <body>" per request.
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
for line in sys.stdin:
    w = line.split()
    if not w:
        continue
    method, path = w[0], w[1]
    body = w[2].encode() if len(w) > 2 and w[2] != "-" else None
    hdrs = {"X-Id": w[2] if body else "-"}
    if "close" in w[3:]:
        hdrs["Connection"] = "close"
    try:
        c.request(method, path, body=body, headers=hdrs)
        r = c.getresponse(); d = r.read().decode().strip()
        print(r.status, d.replace("\n", " "), flush=True)
    except Exception as e:
        print("ERR", repr(e), flush=True)
        c.close()
PY

# be_log PATTERN: lines of the backend's log matching PATTERN (ERE).
be_log() { grep -E "$1" "$TMP/be.out" || true; }
# conn_of PATH NTH: the backend connection of the NTH request to PATH.
conn_of() { be_log "^REQ .* $1 " | sed -n "${2}p" | sed -E 's/^REQ c=([0-9]+) .*/\1/'; }

log "reuse rules, one request at a time"
timeout 60 "$PY" "$TMP/seq.py" "$P" >"$TMP/seq.out" <<'REQ' || fail "seq.py"
GET /r/a1
GET /r/a2
GET /r/closehdr
GET /r/b1
GET /r/http10
GET /r/c1
GET /r/c2 - close
GET /r/d1
GET /r/drop-get
POST /r/drop-post P1
GET /r/e1
DELETE /r/drop-delete
GET /r/f1
PUT /r/drop-put-body U1
GET /r/g1
HEAD /r/drop-head
GET /r/h1
PUT /r/drop-put-empty
GET /r/i1
GET /r/dropall
GET /r/j1
REQ
log "answers:"$'\n'"$(cat "$TMP/seq.out")"
log "backend:"$'\n'"$(cat "$TMP/be.out")"
mapfile -t st < <(awk '{ print $1 }' "$TMP/seq.out")
want=(200 200 200 200 200 200 200 200 200 502 200 200 200 502 200 200 200 200 200 502 200)
[[ ${st[*]} == "${want[*]}" ]] || fail "statuses ${st[*]}, want ${want[*]}"

same() { [[ $(conn_of "$1" 1) == $(conn_of "$2" 1) ]] || fail "$1 and $2 not on one backend connection"; }
other() { [[ $(conn_of "$1" 1) != $(conn_of "$2" 1) ]] || fail "$3: $2 reused the connection of $1"; }
same /a1 /a2
same /a2 /closehdr
other /closehdr /b1 "Connection: close from the backend"
same /b1 /http10
other /http10 /c1 "an HTTP/1.0 answer"
same /c1 /c2
[[ -n $(be_log "^REQ .* /c2 .* conn=close$") ]] || fail "the client's Connection: close not passed on"
other /c2 /d1 "the client's Connection: close"
# Retried once on a new connection: seen twice, answered by the second.
for p in /drop-get /drop-delete /drop-head /drop-put-empty; do
	n=$(be_log "^REQ .* $p " | wc -l)
	((n == 2)) || fail "$p reached the backend $n times, want 2 (the drop, the retry)"
	[[ $(conn_of $p 1) != $(conn_of $p 2) ]] || fail "$p retried on the same connection"
done
# Never sent twice: a POST, a PUT whose body went out.
for p in /drop-post /drop-put-body; do
	n=$(be_log "^REQ .* $p " | wc -l)
	((n == 1)) || fail "$p reached the backend $n times, want 1"
done
n=$(be_log "^REQ .* /dropall " | wc -l)
((n == 2)) || fail "/dropall reached the backend $n times, want 2 (one retry)"
grep -q "^502 .*backend closed" "$TMP/seq.out" || fail "502 without a reason: $(grep ^502 "$TMP/seq.out")"

log "a backend closing idle connections after 1 s, clients pausing about 1 s"
timeout 60 "$PY" - "$P" >"$TMP/race.out" <<'PY' || fail "race client: $(cat "$TMP/race.out")"
import http.client, sys, threading, time
port = int(sys.argv[1]); res = []; lock = threading.Lock()
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for i in range(6):
        time.sleep(0.9 + 0.04 * ((i + k) % 6))
        method = "POST" if (i + k) % 2 else "GET"
        pid = f"k{k}i{i}"
        try:
            c.request(method, f"/i/{method.lower()}-{pid}", body=pid.encode() if method == "POST" else None,
                      headers={"X-Id": pid})
            r = c.getresponse(); r.read(); s = r.status
        except Exception as e:
            s = "ERR"; c.close()
        with lock:
            res.append((method, pid, s))
ts = [threading.Thread(target=client, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
for m, p, s in res:
    print(m, p, s)
PY
bad=$(awk '$1 == "GET" && $3 != 200' "$TMP/race.out")
[[ -z $bad ]] || fail "GETs failed: $bad"
while read -r m id s; do
	[[ $m == POST ]] || continue
	n=$(grep -c "^REQ .* id=$id " "$TMP/beidle.out" || true)
	((n <= 1)) || fail "POST $id reached the backend $n times"
	[[ $s != 200 ]] || ((n == 1)) || fail "POST $id answered 200, seen $n times"
done <"$TMP/race.out"
log "race: $(awk '{ print $1, $3 }' "$TMP/race.out" | sort | uniq -c | tr '\n' ' ')"
log "reused on /i: $(status_field idle backend_reused) of $(status_field idle requests)"

log "the pool's idle timeout closes what is left"
all_closed() {
	local c e
	c=$(grep -c '^REQ .* n=1 ' "$TMP/be.out" || true)
	e=$(grep -c '^EOF ' "$TMP/be.out" || true)
	((c == e))
}
until_ms 10000 all_closed || fail "backend connections left open: $(ss -Htn state established "( dport = :$BE )")"
n=$(status_field rules requests)
((n == 21)) || fail "requests=$n, want 21"

log "--http-pool-size 0: a new connection per request, with Connection: close"
stop_xc
start_xc --http-pool-size 0
wait_listen "$P"
printf 'GET /r/z1\nGET /r/z2\nGET /r/z3\n' | timeout 30 "$PY" "$TMP/seq.py" "$P" >"$TMP/z.out" || fail "seq.py"
[[ $(grep -c "^200 " "$TMP/z.out") == 3 ]] || fail "answers: $(cat "$TMP/z.out")"
other /z1 /z2 "--http-pool-size 0"
other /z2 /z3 "--http-pool-size 0"
[[ $(be_log "^REQ .* /z[123] .* conn=close$" | wc -l) == 3 ]] || fail "no Connection: close with --http-pool-size 0"
[[ $(status_field rules backend_reused) == 0 ]] || fail "backend_reused=$(status_field rules backend_reused) with --http-pool-size 0"
