#!/usr/bin/env bash
# http plugin: routing by the longest path prefix on one shared listener,
# prefix stripping, 404 without a route, 503 for a refusing backend or
# socket "" (held until the connect timeout first, issue 9), keep-alive across routes, and the X-Forwarded-For / X-PV-*
# headers the backend sees.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
http_backend b B
B=$READY
http_backend u U "$TMP/u.sock"
DEAD=$(freeport)
P=$(freeport)
Q=$(freeport)
write_graph "$(http_link api "127.0.0.1:$P/api" "127.0.0.1:$A" consumer-role)" \
	"$(http_link v2 "127.0.0.1:$P/api/v2" "127.0.0.1:$B")" \
	"$(http_link root "127.0.0.1:$P" "$TMP/u.sock")" \
	"$(http_link only "127.0.0.1:$Q/only" "127.0.0.1:$A")" \
	"$(http_link dead "127.0.0.1:$Q/dead" "127.0.0.1:$DEAD")" \
	"$(http_link none "127.0.0.1:$Q/none" "")"
start_xc --connect-timeout 700
wait_listen "$P"
wait_listen "$Q"

# check URL TAG PATH: the request reached backend TAG as PATH.
check() {
	local out
	out=$(curl -sS --max-time 10 "$1") || fail "$1: no answer"
	[[ $(jget "$out" tag) == "$2" ]] || fail "$1 reached $(jget "$out" tag), not $2"
	[[ $(jget "$out" path) == "$3" ]] || fail "$1 arrived as $(jget "$out" path), not $3"
}
log "routing and stripping"
check "http://127.0.0.1:$P/api/x" A /x
check "http://127.0.0.1:$P/api" A /
check "http://127.0.0.1:$P/api/" A /
check "http://127.0.0.1:$P/api?q=1" A '/?q=1'
check "http://127.0.0.1:$P/apix" U /apix
check "http://127.0.0.1:$P/api/v2/y?z" B '/y?z'
check "http://127.0.0.1:$P/api/v2x" A /v2x
check "http://127.0.0.1:$P/" U /
check "http://127.0.0.1:$Q/only/1" A /1

log "404, 503"
[[ $(code "http://127.0.0.1:$Q/other") == 404 ]] || fail "no route: not 404"
[[ $(code "http://127.0.0.1:$Q/onlyx") == 404 ]] || fail "/onlyx: not 404"
[[ $(code "http://127.0.0.1:$Q/dead/x") == 503 ]] || fail "dead backend: not 503"
[[ $(code "http://127.0.0.1:$Q/none") == 503 ]] || fail "socket \"\": not 503"
[[ $(code "http://127.0.0.1:$P/a/../api/x" --path-as-is) == 400 ]] || fail "dot segment: not 400"
out=$(curl -sS --max-time 10 -D "$TMP/404.h" "http://127.0.0.1:$Q/other")
[[ $(jget "$out" error) == "no route" ]] || fail "404 body: $out"
grep -qi '^connection: close' "$TMP/404.h" || fail "404 without Connection: close"
[[ $(raw "$P" "GET /api/h10 HTTP/1.0\r\n\r\n") == 200 ]] || fail "HTTP/1.0 without Host: not 200"

log "headers added for the backend"
out=$(curl -sS --max-time 10 -H 'X-Forwarded-For: 192.0.2.7' -H 'X-PV-Role: admin' \
	-H 'Connection: close, X-Secret' -H 'X-Secret: 1' -H 'Keep-Alive: 5' \
	"http://127.0.0.1:$P/api/h") || fail "no answer"
[[ $(jget "$out" h:x-forwarded-for) == "192.0.2.7, 127.0.0.1" ]] ||
	fail "X-Forwarded-For: $(jget "$out" h:x-forwarded-for)"
[[ $(jget "$out" h:x-pv-role) == consumer-role ]] || fail "X-PV-Role: $(jget "$out" h:x-pv-role)"
[[ $(jget "$out" h:x-pv-client) =~ ^127\.0\.0\.1:[0-9]+$ ]] ||
	fail "X-PV-Client: $(jget "$out" h:x-pv-client)"
[[ -z $(jget "$out" h:x-secret) ]] || fail "a header named in Connection was forwarded"
[[ -z $(jget "$out" h:keep-alive) ]] || fail "Keep-Alive was forwarded"
[[ $(jget "$out" h:host) == "127.0.0.1:$P" ]] || fail "Host: $(jget "$out" h:host)"

log "keep-alive: three requests, two routes, one client connection"
curl -sv --max-time 10 "http://127.0.0.1:$P/api/1" "http://127.0.0.1:$P/api/v2/2" \
	"http://127.0.0.1:$P/3" -o /dev/null -o /dev/null -o /dev/null 2>"$TMP/curl.err" ||
	fail "keep-alive requests"
n=$(grep -c 'Re-using existing connection' "$TMP/curl.err" || true)
((n == 2)) || fail "connection re-used $n times, not 2: $(grep -i connect "$TMP/curl.err")"
n=$(grep -c '^< HTTP/1.1 200' "$TMP/curl.err" || true)
((n == 3)) || fail "$n answers of 200, not 3"

log "counters"
[[ $(status_field api accepted) -ge 6 ]] || fail "api accepted: $(status_field api accepted)"
[[ $(status_field dead failed) == 1 ]] || fail "dead failed: $(status_field dead failed)"
[[ $(status_field api active) == 0 ]] || fail "api active: $(status_field api active)"

log "a removed route: 404 at once, the others go on"
write_graph "$(http_link api "127.0.0.1:$P/api" "127.0.0.1:$A" consumer-role)" \
	"$(http_link root "127.0.0.1:$P" "$TMP/u.sock")"
until_ms 3000 bash -c "[[ \$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 http://127.0.0.1:$Q/only/1) == 000 ]]" \
	>/dev/null || fail "the listener of :$Q stayed after its last route went"
check "http://127.0.0.1:$P/api/v2/y" A /v2/y
log "backend changed: new requests use the new one"
write_graph "$(http_link api "127.0.0.1:$P/api" "127.0.0.1:$B" consumer-role)" \
	"$(http_link root "127.0.0.1:$P" "$TMP/u.sock")"
until_ms 3000 bash -c "curl -s --max-time 2 http://127.0.0.1:$P/api/t | grep -q '\"tag\": \"B\"'" \
	>/dev/null || fail "update not followed"
