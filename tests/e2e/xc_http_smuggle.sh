#!/usr/bin/env bash
# http plugin: a Connection header naming a framing or routing header
# (Content-Length, Transfer-Encoding, Host, X-PV-*, X-Forwarded-*) is a 400,
# so the body can never reach the backend unframed as a second request
# (with a forged X-PV-Role); a backend answer naming its own framing in
# Connection is a 502. The backend logs every request it parses on a
# connection, keep-alive or not.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

cat >"$TMP/reqlog.py" <<'PY'
# reqlog.py LOG: an HTTP/1.1 backend that parses every request of a
# connection (Content-Length bodies) and logs "METHOD PATH ROLE" per request.
import socket, sys, threading
logf = open(sys.argv[1], "a", buffering=1)
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print(f"READY {ls.getsockname()[1]}", flush=True)
def serve(c):
    f = c.makefile("rwb")
    while True:
        line = f.readline()
        if not line:
            return
        if line in (b"\r\n", b"\n"):
            continue
        method, path, _ = line.decode("latin-1").split(" ", 2)
        low = {}
        while True:
            h = f.readline().decode("latin-1")
            if h in ("\r\n", "\n", ""):
                break
            k, _, v = h.partition(":")
            low[k.strip().lower()] = v.strip()
        n = int(low.get("content-length", "0"))
        if n:
            f.read(n)
        logf.write(f"{method} {path} {low.get('x-pv-role', '-')}\n")
        if path.startswith("/badconn"):
            f.write(b"HTTP/1.1 200 OK\r\nConnection: Content-Length\r\n"
                    b"Content-Length: 2\r\n\r\nok")
        else:
            f.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
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
spawn be "$PY" -u "$TMP/reqlog.py" "$TMP/requests.log"
wait_ready be
BE=$READY
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P" "127.0.0.1:$BE" user)"
start_xc
wait_listen "$P"

nreq() { wc -l <"$TMP/requests.log"; }

log "a plain request reaches the backend"
[[ $(raw "$P" 'GET /plain HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') == 200 ]] ||
	fail "plain request: not 200"
[[ $(nreq) == 1 ]] || fail "backend saw $(nreq) requests, want 1"

SMUGGLED='GET /admin HTTP/1.1\r\nHost: x\r\nX-PV-Role: admin\r\nContent-Length: 0\r\n\r\n'
# body: the smuggled request, its exact length
blen=$(printf "$SMUGGLED" | wc -c)
for conn in 'Content-Length' 'keep-alive, content-length' 'X-PV-Role' 'Host' \
	'X-Forwarded-For' 'X-Forwarded-Proto'; do
	log "Connection: $conn"
	st=$(raw "$P" "POST /form HTTP/1.1\r\nHost: x\r\nX-PV-Role: admin\r\nX-Forwarded-For: 1.2.3.4\r\nConnection: $conn\r\nContent-Length: $blen\r\n\r\n$SMUGGLED")
	[[ $st == 400 ]] || fail "Connection: $conn: $st, want 400"
done
st=$(raw "$P" "POST /form HTTP/1.1\r\nHost: x\r\nConnection: close\r\nConnection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
[[ $st == 400 ]] || fail "second Connection header naming Transfer-Encoding: $st, want 400"
sleep 0.3
[[ $(nreq) == 1 ]] || fail "backend saw more requests: $(cat "$TMP/requests.log")"
if grep -q /admin "$TMP/requests.log"; then fail "smuggled request reached the backend"; fi

log "ordinary Connection tokens still pass, the header they name is dropped"
[[ $(raw "$P" 'GET /ok HTTP/1.1\r\nHost: x\r\nConnection: close, X-Secret\r\nX-Secret: 1\r\n\r\n') == 200 ]] ||
	fail "Connection: close, X-Secret: not 200"
[[ $(tail -n1 "$TMP/requests.log") == "GET /ok user" ]] ||
	fail "backend saw '$(tail -n1 "$TMP/requests.log")', want 'GET /ok user'"

log "a backend answer naming Content-Length in Connection: 502"
[[ $(raw "$P" 'GET /badconn HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n') == 502 ]] ||
	fail "answer with Connection: Content-Length: not 502"
[[ $(nreq) == 3 ]] || fail "backend saw $(nreq) requests, want 3: $(cat "$TMP/requests.log")"
log "backend saw: $(tr '\n' ';' <"$TMP/requests.log")"
