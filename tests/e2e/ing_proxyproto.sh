#!/usr/bin/env bash
# Issue 9, done-when 1: a real nginx with `listen … proxy_protocol` behind
# tcp links with "proxy_protocol": "v1" and "v2" logs $proxy_protocol_addr
# = the client's real address, for IPv4 (from 127.0.0.3, not the proxy's
# 127.0.0.1) and IPv6 (::1) clients; an http link sends the header first
# on its backend connection; a Unix-socket backend gets a v2 LOCAL header
# (v1: PROXY UNKNOWN). Runs in a network namespace of its own.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"
ING="$PVX_SRC/tests/e2e/lib/ingpeers.py"

command -v nginx >/dev/null || fail "nginx is not installed"
N=$(freeport)
mkdir -p "$TMP/www" "$TMP/ngx"
echo hello >"$TMP/www/index.html"
nginx_conf "$TMP/ngx" 64 >"$TMP/nginx.conf" <<CONF
	log_format pp 'pp=\$proxy_protocol_addr ppport=\$proxy_protocol_port peer=\$remote_addr uri=\$request_uri';
	access_log $TMP/ngx/access.log pp;
	server {
		listen 127.0.0.1:$N proxy_protocol;
		root $TMP/www;
	}
CONF
nginx_run "$N"

spawn ppunix "$PY" -u "$ING" ppserver "$TMP/pp.sock" "$TMP/pp.jsonl"
wait_ready ppunix

with() { sed "s/}\$/,$1}/"; }
P1=$(freeport) P2=$(freeport) P16=$(freeport --v6) P26=$(freeport --v6)
PH=$(freeport) PU2=$(freeport) PU1=$(freeport)
write_graph \
	"$(link_json v1 "0.0.0.0:$P1" "127.0.0.1:$N" | with '"proxy_protocol":"v1"')" \
	"$(link_json v2 "0.0.0.0:$P2" "127.0.0.1:$N" | with '"proxy_protocol":"v2"')" \
	"$(link_json v1six "[::]:$P16" "127.0.0.1:$N" | with '"proxy_protocol":"v1"')" \
	"$(link_json v2six "[::]:$P26" "127.0.0.1:$N" | with '"proxy_protocol":"v2"')" \
	"$(http_link web "0.0.0.0:$PH/web" "127.0.0.1:$N" | with '"proxy_protocol":"v2"')" \
	"$(link_json unix2 "0.0.0.0:$PU2" "$TMP/pp.sock" | with '"proxy_protocol":"v2"')" \
	"$(link_json unix1 "0.0.0.0:$PU1" "$TMP/pp.sock" | with '"proxy_protocol":"v1"')"
start_xc
for p in "$P1" "$P2" "$P16" "$P26" "$PH" "$PU2" "$PU1"; do wait_listen "$p"; done

# fetch URL URI-TAG [CURL-ARGS]: the page through the proxy; then the
# access log line of that request.
fetch() {
	local url=$1 tag=$2 body
	shift 2
	body=$(curl -sS --max-time 10 "$@" "$url?$tag") || fail "$tag: curl failed"
	[[ $body == hello ]] || fail "$tag: body '$body'"
	for ((i = 0; i < 50; i++)); do
		LINE=$(grep -F "uri=/?$tag" "$TMP/ngx/access.log" 2>/dev/null || true)
		[[ -n $LINE ]] && return 0
		sleep 0.05
	done
	fail "$tag: no access log line: $(cat "$TMP/ngx/access.log" "$TMP/ngx/error.log")"
}
fetch "http://127.0.0.3:$P1/" v1four --interface 127.0.0.3
[[ $LINE == "pp=127.0.0.3 "* ]] || fail "v1 IPv4: $LINE"
fetch "http://127.0.0.3:$P2/" v2four --interface 127.0.0.3
[[ $LINE == "pp=127.0.0.3 "* ]] || fail "v2 IPv4: $LINE"
fetch "http://[::1]:$P16/" v1six
[[ $LINE == "pp=::1 "* ]] || fail "v1 IPv6: $LINE"
fetch "http://[::1]:$P26/" v2six
[[ $LINE == "pp=::1 "* ]] || fail "v2 IPv6: $LINE"
# The client's own port, as nginx read it from the header.
port=$("$PY" - "127.0.0.3" "$P2" <<'PY'
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 0))
s.connect((sys.argv[1], int(sys.argv[2])))
print(s.getsockname()[1])
s.sendall(b"GET /?portcheck HTTP/1.0\r\n\r\n")
while s.recv(4096):
    pass
PY
)
for ((i = 0; i < 50; i++)); do
	LINE=$(grep -F "uri=/?portcheck" "$TMP/ngx/access.log" || true)
	[[ -n $LINE ]] && break
	sleep 0.05
done
[[ $LINE == "pp=127.0.0.3 ppport=$port "* ]] || fail "v2 source port: want $port: $LINE"
grep -q 'peer=127.0.0.1' <<<"$LINE" || fail "nginx's peer is not the proxy: $LINE"
log "nginx logs the real client (v1, v2; IPv4, IPv6; source port) as \$proxy_protocol_addr"

# fetch waits for the log line: nginx writes it after the answer.
fetch "http://127.0.0.3:$PH/web/" httppp --interface 127.0.0.3
[[ $LINE == "pp=127.0.0.3 "* ]] || fail "http link: $LINE"
log "http link: PROXY header first on its backend connection"

got=$("$PY" "$ING" fetch "127.0.0.1:$PU2")
[[ $got == data:hello ]] || fail "unix backend v2: got '$got'"
got=$("$PY" "$ING" fetch "127.0.0.1:$PU1")
[[ $got == data:hello ]] || fail "unix backend v1: got '$got'"
# The backend records a header line per connection, maybe after its
# answer reached the client: wait for both.
for ((i = 0; i < 100; i++)); do
	[[ $(wc -l <"$TMP/pp.jsonl" 2>/dev/null || echo 0) -ge 2 ]] && break
	sleep 0.05
done
"$PY" - "$TMP/pp.jsonl" <<'PY' || fail "unix backend headers: $(cat "$TMP/pp.jsonl")"
import json, sys
v = [json.loads(l) for l in open(sys.argv[1])]
assert len(v) == 2, v
two = [x for x in v if x.get("version") == 2][0]
assert two["cmd"] == "LOCAL" and two["ver_cmd"] == 0x20, two
assert two["family"] == 0 and two["len"] == 0, two
one = [x for x in v if x.get("version") == 1][0]
assert one["line"] == "PROXY UNKNOWN", one
PY
log "Unix backend: v2 LOCAL (AF_UNSPEC, no addresses), v1 PROXY UNKNOWN"
[[ $(status_field v2 bytes_in) -gt 0 ]] || fail "no bytes counted"
