#!/usr/bin/env bash
# http plugin: bodies streamed both ways with bounded memory (10 MiB
# chunked and sized uploads hashed by the backend, 24 MiB to a backend
# that reads slowly, a close-delimited 32 MiB download re-framed as chunks
# to a slow client), and the refusals: 400
# (smuggling attempts, bad chunks), 431 (header block over 16 KiB), 413
# (declared or streamed body over 64 MiB).
# shellcheck source=tests/e2e/lib/xc_http_lib.sh
source "$(dirname "$0")/lib/xc_http_lib.sh"

http_backend a A
A=$READY
P=$(freeport)
write_graph "$(http_link up "127.0.0.1:$P/up" "127.0.0.1:$A")"
start_xc
wait_listen "$P"
U="http://127.0.0.1:$P/up"

head -c $((10 << 20)) /dev/urandom >"$TMP/blob"
want=$(sha256sum "$TMP/blob" | cut -d' ' -f1)
log "10 MiB chunked upload"
out=$(curl -sS --max-time 30 -H 'Transfer-Encoding: chunked' --data-binary "@$TMP/blob" "$U/c") ||
	fail "chunked upload"
[[ $(jget "$out" len) == $((10 << 20)) ]] || fail "backend got $(jget "$out" len) bytes"
[[ $(jget "$out" sha256) == "$want" ]] || fail "chunked upload: digest differs"
[[ $(jget "$out" h:transfer-encoding) == chunked ]] || fail "not forwarded chunked"
log "10 MiB upload with Content-Length"
out=$(curl -sS --max-time 30 --data-binary "@$TMP/blob" "$U/l") || fail "sized upload"
[[ $(jget "$out" sha256) == "$want" ]] || fail "sized upload: digest differs"
[[ $(jget "$out" h:content-length) == $((10 << 20)) ]] || fail "Content-Length not kept"

log "24 MiB upload to a backend reading at about 10 MB/s"
cat "$TMP/blob" "$TMP/blob" "$TMP/blob" >"$TMP/blob3"
want3=$(sha256sum "$TMP/blob3" | cut -d' ' -f1)
out=$(curl -sS --max-time 30 --data-binary "@$TMP/blob3" "$U/slow") || fail "slow upload"
[[ $(jget "$out" sha256) == "$want3" ]] || fail "slow upload: digest differs"

log "32 MiB close-delimited download to a client reading at 16 MB/s"
curl -sS --max-time 30 --limit-rate 16M -D "$TMP/dl.h" -o "$TMP/dl" "$U/big?n=$((32 << 20))" ||
	fail "download"
[[ $(stat -c %s "$TMP/dl") == $((32 << 20)) ]] || fail "download: $(stat -c %s "$TMP/dl") bytes"
"$PY" - "$TMP/dl" <<'PY' || fail "download: content differs"
import sys
d = open(sys.argv[1], "rb").read(); c = bytes(range(256)) * 256
sys.exit(any(d[i:i + len(c)] != c[:len(d) - i] for i in range(0, len(d), len(c))))
PY
grep -qi '^transfer-encoding: chunked' "$TMP/dl.h" || fail "close-delimited body not re-framed as chunks"
hwm=$(proc_kb "$XC_PID" VmHWM)
log "pv-xconnect peak RSS after 44 MiB up (24 slowly read) and 32 MiB down: ${hwm} kB"
if [[ $(ldd "$PVX_BIN/pv-xconnect") == *libasan* ]]; then
	log "AddressSanitizer build: its shadow memory makes RSS meaningless, not checked"
elif ((hwm >= 12288)); then
	fail "peak RSS ${hwm} kB: bodies buffered, not streamed"
fi

log "refusals"
H="Host: x\r\n"
expect() { # WANT WHY RAW-ARGS...
	local want=$1 why=$2 got
	shift 2
	got=$(raw "$P" "$@")
	[[ $got == "$want" ]] || fail "$why: answer $got, wanted $want"
}
expect 400 "CL and TE" "POST /up HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
expect 400 "differing CL" "POST /up HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 7\r\n\r\nhello"
expect 400 "obs-fold" "GET /up HTTP/1.1\r\n${H}X-A: 1\r\n  folded\r\n\r\n"
expect 400 "bare LF" "GET /up HTTP/1.1\n${H}\n"
expect 400 "bad chunk size" "POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\nzz\r\n"
expect 400 "chunk without CRLF" "POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n"
expect 400 "no Host" "GET /up HTTP/1.1\r\n\r\n"
big=$(printf 'x%.0s' $(seq 1 17000))
expect 431 "17 kB header" "GET /up HTTP/1.1\r\n${H}X-Big: $big\r\n\r\n"
[[ $(code "$U" -H "X-Big: $big") == 431 ]] || fail "curl: not 431"
expect 413 "declared 100 MiB" "POST /up HTTP/1.1\r\n${H}Content-Length: 104857600\r\n\r\n"
expect 413 "streamed 65 MiB" "POST /up HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n" --body-mib 65
log "still serving"
out=$(curl -sS --max-time 10 "$U/ok") || fail "no answer after the refusals"
[[ $(jget "$out" path) == /ok ]] || fail "path $(jget "$out" path)"
[[ $(status_field up active) == 0 ]] || fail "active: $(status_field up active)"
