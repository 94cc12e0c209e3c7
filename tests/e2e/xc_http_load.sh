#!/usr/bin/env bash
# http plugin under concurrency with small buffers (--buf-size 4096): 20
# keep-alive clients, 50 requests each, over a TCP and a Unix-socket
# backend, bodies of 0 B to 70 kB sized or chunked, each answer checked
# (path, length, digest); counters add up; no warning logged.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
http_backend u U "$TMP/u.sock"
P=$(freeport)
write_graph "$(http_link a "127.0.0.1:$P/a" "127.0.0.1:$A")" \
	"$(http_link u "127.0.0.1:$P/u" "$TMP/u.sock")"
start_xc --buf-size 4096
wait_listen "$P"
log "1000 requests on 20 connections"
timeout 60 "$PY" - "$P" <<'PY' || fail "requests under load"
import http.client, json, sys, threading, random, hashlib
port = int(sys.argv[1]); errs = []; done = [0]
def worker(n):
    rnd = random.Random(n)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for i in range(50):
        p = rnd.choice(["/a", "/u"])
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.choice([0, 10, 5000, 70000])))
        if rnd.random() < 0.5 and body:
            c.request("POST", p + "/x%d" % i, body=iter([body[:len(body)//2], body[len(body)//2:]]), encode_chunked=True)
        else:
            c.request("POST" if body else "GET", p + "/x%d" % i, body=body or None)
        r = c.getresponse(); d = r.read()
        try:
            j = json.loads(d)
            assert j["path"] == "/x%d" % i, j["path"]
            assert j["len"] == len(body), (j["len"], len(body))
            assert j["sha256"] == hashlib.sha256(body).hexdigest()
        except Exception as e:
            errs.append(repr(e)); return
        done[0] += 1
ts = [threading.Thread(target=worker, args=(n,)) for n in range(20)]
[t.start() for t in ts]; [t.join() for t in ts]
print("done", done[0], "errors", errs[:3])
sys.exit(1 if errs else 0)
PY
a=$(status_field a requests)
u=$(status_field u requests)
((a + u == 1000)) || fail "requests $a + $u, not 1000"
[[ $(status_field a active) == 0 && $(status_field u active) == 0 ]] || fail "requests still active"
! grep -E ' (warn|error) ' "$TMP/xc.log" || fail "warnings logged"
