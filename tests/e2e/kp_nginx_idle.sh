#!/usr/bin/env bash
# Backend keep-alive against nginx closing its idle connections
# (keepalive_timeout 1s) while 4 keep-alive clients send GETs with pauses
# of about 1 s (0.9 to 1.1 s) and the pool would keep them for 5 s: zero
# client-visible errors, every answer byte-exact, and the pool did serve
# requests on kept connections (backend_reused > 0).
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed"
N=$(freeport)
mkdir -p "$TMP/www" "$TMP/ngx"
head -c 20000 /dev/urandom >"$TMP/www/f.bin"
nginx_conf "$TMP/ngx" 64 >"$TMP/nginx.conf" <<CONF
	log_format conns '\$connection \$status \$request_uri';
	access_log $TMP/ngx/access.log conns;
	default_type application/octet-stream;
	keepalive_timeout 1s;
	server {
		listen 127.0.0.1:$N;
		root $TMP/www;
	}
CONF
nginx_run "$N"
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P" "127.0.0.1:$N")"
start_xc --http-pool-idle-ms 5000
wait_listen "$P"

log "4 clients, 8 GETs each, pauses of 0.9 to 1.1 s"
timeout 90 "$PY" - "$P" "$TMP/www/f.bin" >"$TMP/client.out" <<'PY' || fail "client: $(cat "$TMP/client.out")"
import http.client, sys, threading, time
port, want = int(sys.argv[1]), open(sys.argv[2], "rb").read()
res = []; lock = threading.Lock()
def client(k):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for i in range(8):
        # A short request now and then: a connection nginx has just kept.
        time.sleep(0.9 + 0.05 * ((i + k) % 5) if i % 3 else 0.05)
        try:
            c.request("GET", "/f.bin")
            r = c.getresponse(); d = r.read()
            ok = r.status == 200 and d == want
            s = f"{r.status} {len(d)}"
        except Exception as e:
            ok, s = False, repr(e)
            c.close()
        with lock:
            res.append((ok, s))
ts = [threading.Thread(target=client, args=(k,)) for k in range(4)]
[t.start() for t in ts]; [t.join() for t in ts]
bad = [s for ok, s in res if not ok]
print(len(res), "answers,", len(bad), "bad:", bad[:4])
sys.exit(1 if bad or len(res) != 32 else 0)
PY
log "$(cat "$TMP/client.out")"
req=$(status_field web requests)
new=$(status_field web backend_connects)
reu=$(status_field web backend_reused)
log "requests=$req backend_connects=$new backend_reused=$reu"
((req == 32)) || fail "requests=$req, want 32"
((reu > 0)) || fail "no request went on a kept connection"
n=$(grep -c ' 200 /f.bin$' "$TMP/ngx/access.log" || true)
log "nginx answered $n requests on $(awk '{ print $1 }' "$TMP/ngx/access.log" | sort -u | wc -l) connections"
! grep -E ' (warn|error) ' "$TMP/xc.log" || fail "warnings logged"
