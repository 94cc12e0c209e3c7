#!/usr/bin/env bash
# Backend keep-alive of the http plugin (issue 8) in front of a real nginx
# whose access log records $connection: 2000 keep-alive requests from 16
# clients, every answer byte-exact, nginx sees at most 32 connections and
# the link's counters say the same (requests, backend_connects,
# backend_reused); 48 clients at once leave at most --http-pool-size idle
# connections to nginx; a backend changed in the graph, then the route
# removed, empty the pool (nginx's connections close at once).
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed"
N=$(freeport)
N2=$(freeport)
mkdir -p "$TMP/www" "$TMP/ngx"
for s in 0 1 100 4096 65536 300000; do
	head -c "$s" /dev/urandom >"$TMP/www/f$s.bin"
done
nginx_conf "$TMP/ngx" 512 >"$TMP/nginx.conf" <<CONF
	log_format conns '\$server_port \$connection \$status \$request_uri';
	access_log $TMP/ngx/access.log conns;
	default_type application/octet-stream;
	keepalive_timeout 600s;
	keepalive_requests 100000;
	server {
		listen 127.0.0.1:$N;
		listen 127.0.0.1:$N2;
		root $TMP/www;
	}
CONF
nginx_run "$N"
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P/web" "127.0.0.1:$N")"
# Idle connections stay (nginx and the pool both keep them for minutes):
# what closes them below is the pool's bound and its flushes.
start_xc --http-pool-idle-ms 600000
wait_listen "$P"

# pv-xconnect's connections to nginx on PORT now.
be_conns() { ss -Htn state established "( dport = :$1 )" | wc -l; }

cat >"$TMP/client.py" <<'PY'
# client.py PORT WWW CLIENTS REQUESTS: REQUESTS GETs in all from CLIENTS
# keep-alive connections (http.client), each answer compared byte for
# byte with the file; prints the number of good answers.
import hashlib, http.client, os, random, sys, threading
port, www, nc, total = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
files = {f: open(os.path.join(www, f), "rb").read() for f in os.listdir(www)}
names = sorted(files)
errs, good, lock = [], [0], threading.Lock()
def worker(n, count):
    rnd = random.Random(n)
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    for i in range(count):
        f = rnd.choice(names)
        try:
            c.request("GET", "/web/" + f)
            r = c.getresponse(); d = r.read()
            assert r.status == 200, (f, r.status, d[:200])
            assert d == files[f], (f, len(d), len(files[f]))
            assert not r.will_close, (f, "server closes the connection")
        except Exception as e:
            with lock:
                errs.append(repr(e))
            return
        with lock:
            good[0] += 1
    c.close()
ts = [threading.Thread(target=worker, args=(n, total // nc + (n < total % nc)))
      for n in range(nc)]
[t.start() for t in ts]; [t.join() for t in ts]
print(good[0], "errors:", errs[:3])
sys.exit(1 if errs else 0)
PY

log "2000 keep-alive requests from 16 clients"
out=$(timeout 120 "$PY" "$TMP/client.py" "$P" "$TMP/www" 16 2000) || fail "client: $out"
[[ $out == "2000 errors: []" ]] || fail "client: $out"
got_lines() { (($(grep -c "^$N " "$TMP/ngx/access.log" || true) == 2000)); }
until_ms 5000 got_lines || fail "nginx logged $(grep -c "^$N " "$TMP/ngx/access.log") requests, not 2000"
conns=$(awk -v p="$N" '$1 == p { print $2 }' "$TMP/ngx/access.log" | sort -u | wc -l)
log "nginx saw 2000 requests on $conns connections"
((conns <= 32)) || fail "nginx saw $conns connections for 2000 requests, want <= 32"
grep -v "^$N [0-9]* 200 /f" "$TMP/ngx/access.log" && fail "nginx logged other requests"
req=$(status_field web requests)
new=$(status_field web backend_connects)
reu=$(status_field web backend_reused)
acc=$(status_field web accepted)
log "counters: accepted=$acc requests=$req backend_connects=$new backend_reused=$reu"
((req == 2000)) || fail "requests=$req, want 2000"
((new == conns)) || fail "backend_connects=$new, nginx saw $conns connections"
((reu == 2000 - new)) || fail "backend_reused=$reu, want $((2000 - new))"
((acc == 16)) || fail "accepted=$acc, want 16 (client connections)"
"$PVX_BIN/pvcontrol" --status "$TMP/status.sock" links ls >"$TMP/links.txt" || fail "links ls"
grep -qE "^web .* 2000/$new/$reu$" "$TMP/links.txt" || fail "links ls: $(cat "$TMP/links.txt")"

log "48 clients at once: at most 32 idle connections stay"
out=$(timeout 120 "$PY" "$TMP/client.py" "$P" "$TMP/www" 48 480) || fail "client: $out"
[[ $out == "480 errors: []" ]] || fail "client: $out"
settled() { (($(status_field web active) == 0)); }
until_ms 5000 settled || fail "requests still active"
n=$(be_conns "$N")
log "connections to nginx after the burst: $n"
((n > 0 && n <= 32)) || fail "$n connections to nginx stay open, want 1..32"

log "the backend changed: its idle connections close"
write_graph "$(http_link web "127.0.0.1:$P/web" "127.0.0.1:$N2")"
gone() { (($(be_conns "$1") == 0)); }
until_ms 10000 gone "$N" || fail "$(be_conns "$N") connections to the old backend stay open"
out=$(timeout 60 "$PY" "$TMP/client.py" "$P" "$TMP/www" 4 40) || fail "client: $out"
[[ $out == "40 errors: []" ]] || fail "client after the change: $out"
n=$(be_conns "$N2")
((n >= 1 && n <= 4)) || fail "$n connections to the new backend, want 1..4"
n=$(grep -c "^$N2 " "$TMP/ngx/access.log" || true)
((n == 40)) || fail "new backend got $n requests"

log "the route removed: its idle connections close"
write_graph
until_ms 10000 gone "$N2" || fail "$(be_conns "$N2") connections stay open after the route was removed"
! grep -E ' (warn|error) ' "$TMP/xc.log" || fail "warnings logged"
