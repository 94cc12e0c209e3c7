#!/usr/bin/env bash
# http plugin in front of a real nginx (own config, pid, logs and temp
# paths in this test's directory; TCP and Unix-socket listeners): static
# download with digest, HEAD, Range (206) and 404 passed through, a 10 MiB
# chunked PUT stored by nginx's DAV module and read back, headers added
# by the plugin as nginx sees them, keep-alive on the client side.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

command -v nginx >/dev/null || fail "nginx is not installed"
N=$(freeport)
mkdir -p "$TMP/www/dav" "$TMP/ngx"
head -c $((8 << 20)) /dev/urandom >"$TMP/www/big.bin"
echo hello >"$TMP/www/index.html"
nginx_conf "$TMP/ngx" 64 >"$TMP/nginx.conf" <<CONF
	access_log $TMP/ngx/access.log;
	default_type application/octet-stream;
	server {
		listen 127.0.0.1:$N;
		listen unix:$TMP/ngx.sock;
		root $TMP/www;
		client_max_body_size 100m;
		location /dav/ { dav_methods PUT; create_full_put_path on; }
		location = /echo {
			return 200 "xff=\$http_x_forwarded_for client=\$http_x_pv_client role=\$http_x_pv_role uri=\$request_uri conn=\$http_connection\n";
		}
	}
CONF
nginx_run "$TMP/ngx.sock"
P=$(freeport)
write_graph "$(http_link web "127.0.0.1:$P/web" "127.0.0.1:$N" viewer)" \
	"$(http_link sock "127.0.0.1:$P/sock" "$TMP/ngx.sock")"
start_xc
wait_listen "$P"
W="http://127.0.0.1:$P/web"

log "8 MiB static download"
curl -sS --max-time 20 -o "$TMP/got" "$W/big.bin" || fail "download"
cmp -s "$TMP/got" "$TMP/www/big.bin" || fail "downloaded file differs"
log "HEAD, Range, 404 from nginx"
curl -sS --max-time 10 -I "$W/big.bin" >"$TMP/head" || fail "HEAD"
grep -qi "^content-length: $((8 << 20))" "$TMP/head" || fail "HEAD: $(cat "$TMP/head")"
[[ $(code "$W/big.bin" -r 100-199) == 206 ]] || fail "Range: not 206"
[[ $(curl -sS --max-time 10 -r 100-199 "$W/big.bin" | wc -c) == 100 ]] || fail "Range: not 100 bytes"
[[ $(code "$W/missing") == 404 ]] || fail "nginx 404 not passed through"
log "10 MiB chunked PUT through the Unix-socket route, read back"
head -c $((10 << 20)) /dev/urandom >"$TMP/put"
c=$(code "http://127.0.0.1:$P/sock/dav/x.bin" -T "$TMP/put" -H 'Transfer-Encoding: chunked')
[[ $c == 201 || $c == 204 ]] || fail "PUT: $c"
cmp -s "$TMP/put" "$TMP/www/dav/x.bin" || fail "stored file differs"
curl -sS --max-time 20 -o "$TMP/back" "$W/dav/x.bin" || fail "read back"
cmp -s "$TMP/put" "$TMP/back" || fail "read back differs"
log "headers as nginx sees them"
out=$(curl -sS --max-time 10 -H 'X-Forwarded-For: 198.51.100.1' "$W/echo?a=1")
[[ $out =~ ^xff=198\.51\.100\.1,\ 127\.0\.0\.1\ client=127\.0\.0\.1:[0-9]+\ role=viewer\ uri=/echo\?a=1\ conn=$ ]] ||
	fail "nginx saw: $out"
log "keep-alive: four requests on one connection"
curl -sv --max-time 20 "$W/index.html" "$W/echo" "http://127.0.0.1:$P/sock/index.html" "$W/big.bin" \
	-o /dev/null -o /dev/null -o /dev/null -o /dev/null 2>"$TMP/curl.err" || fail "keep-alive requests"
n=$(grep -c 'Re-using existing connection' "$TMP/curl.err" || true)
((n == 3)) || fail "connection re-used $n times, not 3"
[[ $(status_field web active) == 0 && $(status_field sock active) == 0 ]] || fail "requests still active"
