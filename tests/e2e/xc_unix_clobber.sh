# The unix plugin never clobbers what is not a stale socket: a regular
# file, a directory or a live socket of another process at the target
# path make the link "failed" with a clear error (status socket and log)
# and are left intact; once the regular file is gone, the retry binds.
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer unix-echo echo "$TMP/be.sock"
mkdir -p "$TMP/t/dir.sock"
F=$TMP/t/file.sock
head -c 4096 /dev/urandom >"$F"
SUM=$(sha256sum <"$F")
start_peer other echo "$TMP/t/live.sock" # someone else's live socket

write_graph "$(unix_link_json file "$F" "$TMP/be.sock")" \
	"$(unix_link_json dir "$TMP/t/dir.sock" "$TMP/be.sock")" \
	"$(unix_link_json live "$TMP/t/live.sock" "$TMP/be.sock")" \
	"$(unix_link_json ok "$TMP/t/ok.sock" "$TMP/be.sock")"
start_xc
wait_sock "$TMP/t/ok.sock"
for ((i = 0; i < 40; i++)); do
	[[ $(status_field live state) == failed ]] && break
	sleep 0.05
done

for n in file dir live; do
	[[ $(status_field $n state) == failed ]] || fail "link $n: state '$(status_field $n state)', want failed"
done
err=$(status_field file error)
[[ $err == *"$F"*"regular file"* ]] || fail "link file: unclear error '$err'"
[[ $(status_field dir error) == *directory* ]] || fail "link dir: error '$(status_field dir error)'"
[[ $(status_field live error) == *"live socket"* ]] || fail "link live: error '$(status_field live error)'"
grep -q "link failed type=unix name=file .*error=\"bind $F: path is a regular file, not a socket; not replacing it" "$TMP/xc.log" ||
	fail "no log line for the regular file"
[[ -f $F && $(sha256sum <"$F") == "$SUM" ]] || fail "$F was changed"
[[ -d $TMP/t/dir.sock ]] || fail "the directory was touched"
log "someone else's live socket still answers"
timeout 10 "$PY" "$PEERS" client "$TMP/t/live.sock" --bytes 4096 || fail "live socket taken over"
[[ $(status_field ok state) == listening ]] || fail "link ok not listening next to the failed ones"

log "the regular file goes: the retry binds"
rm -f "$F"
wait_sock "$F" 5
timeout 10 "$PY" "$PEERS" client "$F" --bytes 65536 || fail "link file after retry"
[[ $(status_field file state) == listening ]] || fail "link file not listening after retry"
grep -q "link added after retry type=unix name=file" "$TMP/xc.log" || fail "no retry log line"
