# HTTP prefix routes (issue 11): a stripped prefix is sent as
# X-Forwarded-Prefix (a client's own is dropped); a rule with
# "strip_prefix": false forwards the whole path and no such header; a
# redirect from a backend behind a stripped prefix (Location: /sub/) gets
# the prefix back (/api/sub/) and curl -L lands on the backend again,
# while absolute URLs, "//host" and relative Locations pass unchanged; a
# graph with a non-boolean strip_prefix is refused.
source "$(dirname "$0")/lib/xc_http_lib.sh"

cat >"$TMP/redirbe.py" <<'PY'
# An HTTP/1.1 backend: /redir* answers 301 with the Location named by the
# path, anything else 200 with a JSON of the path and headers.
import json, socket, sys, threading
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0)); ls.listen(16)
print(f"READY {ls.getsockname()[1]}", flush=True)
LOC = {"/redir": "/sub/", "/redirabs": "http://other.example/x",
       "/redir2": "//cdn.example/x", "/redirrel": "sub/", "/redirroot": "/"}
def serve(c):
    f = c.makefile("rwb")
    line = f.readline().decode()
    method, path, _ = line.split(" ", 2)
    hdrs = []
    while True:
        h = f.readline().decode()
        if h in ("\r\n", "\n", ""):
            break
        k, _, v = h.partition(":")
        hdrs.append([k.strip(), v.strip()])
    key = path.rsplit("/", 1)[-1]
    if "/" + key in LOC:
        f.write(b"HTTP/1.1 301 Moved\r\nLocation: " + LOC["/" + key].encode() +
                b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    else:
        body = json.dumps({"path": path, "headers": hdrs}).encode()
        f.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    f.flush(); c.close()
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
spawn be "$PY" -u "$TMP/redirbe.py"
wait_ready be
BE=$READY
HP=$(freeport)
write_graph "$(http_link p-strip "127.0.0.1:$HP/api" "127.0.0.1:$BE")" \
	"$(http_link p-keep "127.0.0.1:$HP/keep" "127.0.0.1:$BE" | sed 's/}$/,"strip_prefix":false}/')"
start_xc
wait_listen "$HP"

get() { curl -sS --max-time 10 "$@"; }
r=$(get -H 'X-Forwarded-Prefix: /evil' "http://127.0.0.1:$HP/api/x?q=1") || fail "GET /api/x"
[[ $(jget "$r" path) == "/x?q=1" ]] || fail "stripped path: $r"
[[ $(jget "$r" h:x-forwarded-prefix) == "/api" ]] || fail "X-Forwarded-Prefix: $r"
r=$(get "http://127.0.0.1:$HP/keep/x") || fail "GET /keep/x"
[[ $(jget "$r" path) == "/keep/x" ]] || fail "kept path: $r"
[[ -z $(jget "$r" h:x-forwarded-prefix) ]] || fail "X-Forwarded-Prefix on a kept prefix: $r"
log "X-Forwarded-Prefix sent (a client's dropped); strip_prefix false keeps the path"

loc() { get -o /dev/null -w '%{redirect_url}|%header{location}' "http://127.0.0.1:$HP$1"; }
[[ $(loc /api/redir) == *"|/api/sub/" ]] || fail "Location /sub/ behind /api: $(loc /api/redir)"
[[ $(loc /api/redirroot) == *"|/api/" ]] || fail "Location / behind /api: $(loc /api/redirroot)"
[[ $(loc /api/redirabs) == *"|http://other.example/x" ]] || fail "absolute URL changed: $(loc /api/redirabs)"
[[ $(loc /api/redir2) == *"|//cdn.example/x" ]] || fail "//host changed: $(loc /api/redir2)"
[[ $(loc /api/redirrel) == *"|sub/" ]] || fail "relative Location changed: $(loc /api/redirrel)"
[[ $(loc /keep/redir) == *"|/sub/" ]] || fail "Location behind a kept prefix changed: $(loc /keep/redir)"
r=$(get -L "http://127.0.0.1:$HP/api/redir") || fail "curl -L"
[[ $(jget "$r" path) == "/sub/" && $(jget "$r" h:x-forwarded-prefix) == "/api" ]] ||
	fail "after the redirect: $r"
log "Location: /sub/ -> /api/sub/ (followed), others unchanged"

write_graph "$(http_link p-strip "127.0.0.1:$HP/api" "127.0.0.1:$BE" | sed 's/}$/,"strip_prefix":"no"}/')"
kill -HUP "$XC_PID"
until_ms 5000 log_has "graph[0].strip_prefix: expected true or false" || fail "bad strip_prefix not refused"
r=$(get "http://127.0.0.1:$HP/keep/y") || fail "running links not kept after a refused graph"
[[ $(jget "$r" path) == "/keep/y" ]] || fail "kept link changed: $r"
log "a non-boolean strip_prefix refuses the graph, the running links stay"
