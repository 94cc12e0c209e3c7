#!/usr/bin/env bash
# Issue 9, done-when 2: with "allow": ["127.0.0.1/32"], a client bound to
# 127.0.0.2 is closed without the backend seeing a connection and counted
# in `denied`, while 127.0.0.1 is served; on a shared http listener the
# allowlist is per route: 403 for the denied route while a sibling route
# serves the same client.
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"
ING="$PVX_SRC/tests/e2e/lib/ingpeers.py"

spawn counted "$PY" -u "$ING" counted 127.0.0.1:0 "$TMP/accepts"
wait_ready counted
BE=127.0.0.1:$READY
P=$(freeport)
TCP=$(link_json guarded "0.0.0.0:$P" "$BE" | sed 's/}$/,"allow":["127.0.0.1\/32"]}/')

http_backend hb H
HB=127.0.0.1:$READY
HP=$(freeport)
SECRET=$(http_link secret "0.0.0.0:$HP/secret" "$HB" | sed 's/}$/,"allow":["127.0.0.1\/32"]}/')
OPEN=$(http_link open "0.0.0.0:$HP" "$HB")

write_graph "$TCP" "$SECRET" "$OPEN"
start_xc
wait_listen "$P"
wait_listen "$HP"

fetch() { "$PY" "$ING" fetch "$@"; }

fetch "127.0.0.2:$P" --src 127.0.0.2 --n 20 >"$TMP/denied.out"
n=$(grep -cxE 'eof|reset' "$TMP/denied.out" || true)
((n == 20)) || fail "20 clients from 127.0.0.2: $n closed: $(sort "$TMP/denied.out" | uniq -c)"
[[ ! -e $TMP/accepts ]] || fail "the backend saw $(wc -l <"$TMP/accepts") connection(s) of denied clients"
[[ $(status_field guarded denied) == 20 ]] || fail "denied=$(status_field guarded denied), want 20"
[[ $(status_field guarded accepted) == 0 ]] || fail "denied clients counted as accepted"
log_has "client 127.0.0.2:" || fail "no log line for the denied client"
log_has "not in allow: closed" || fail "no 'not in allow' log line"
# At most one line per second: 20 denials in a burst are not 20 lines.
(($(grep -c 'not in allow' "$TMP/xc.log") < 10)) || fail "denied log lines not rate-limited"
log "127.0.0.2 closed x20, backend saw nothing, denied=20, rate-limited log"

got=$(fetch "127.0.0.1:$P" --src 127.0.0.1)
[[ $got == data:hello ]] || fail "127.0.0.1 got '$got', want hello"
[[ $(wc -l <"$TMP/accepts") == 1 ]] || fail "backend did not see the allowed client once"
[[ $(status_field guarded denied) == 20 ]] || fail "allowed client counted as denied"
log "127.0.0.1 served"

c=$(code "http://127.0.0.1:$HP/secret/x" --interface 127.0.0.2)
[[ $c == 403 ]] || fail "http /secret from 127.0.0.2: $c, want 403"
c=$(code "http://127.0.0.1:$HP/other" --interface 127.0.0.2)
[[ $c == 200 ]] || fail "http sibling route from 127.0.0.2: $c, want 200"
c=$(code "http://127.0.0.1:$HP/secret/x" --interface 127.0.0.1)
[[ $c == 200 ]] || fail "http /secret from 127.0.0.1: $c, want 200"
[[ $(status_field secret denied) == 1 ]] || fail "secret denied=$(status_field secret denied), want 1"
[[ $(status_field secret accepted) == 1 ]] || fail "secret accepted=$(status_field secret accepted), want 1"
[[ $(status_field open denied) == 0 ]] || fail "open route counted a denial"
log "http: 403 on the guarded route, 200 on its sibling, for the same client"

# IPv6: a v6 allowlist on a [::] listener; ::1 is in it, a v4 client of
# a v4 listener with only v6 networks is not.
P6=$(freeport --v6)
V6=$(link_json v6 "[::]:$P6" "$BE" | sed 's/}$/,"allow":["::1\/128"]}/')
P4=$(freeport)
V4ONLY6=$(link_json v4only6 "0.0.0.0:$P4" "$BE" | sed 's/}$/,"allow":["::\/0"]}/')
write_graph "$TCP" "$SECRET" "$OPEN" "$V6" "$V4ONLY6"
wait_listen "$P6"
wait_listen "$P4"
got=$(fetch "[::1]:$P6")
[[ $got == data:hello ]] || fail "::1 on the v6 link got '$got'"
got=$(fetch "127.0.0.1:$P4")
[[ $got == eof || $got == reset ]] || fail "v4 client of a v6-only allowlist got '$got'"
[[ $(status_field v4only6 denied) == 1 ]] || fail "v4only6 denied=$(status_field v4only6 denied)"
log "IPv6 allowlists"
