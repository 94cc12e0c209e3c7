# pvcontrol links ls: pv-xconnect's per-link counters read through its
# status socket, as a table and as JSON (SPEC §8 observability).
source "$(dirname "$0")/lib/xc_tcp_lib.sh"

start_peer echo echo 127.0.0.1:0
BE=$READY
P=$(freeport)
write_graph "$(link_json cli-links "127.0.0.1:$P" "127.0.0.1:$BE")"
start_xc
wait_listen "$P"

timeout 20 "$PY" "$PEERS" client "127.0.0.1:$P" --bytes 4096 --conns 3 ||
	fail "echo through the link"
CLI=("$PVX_BIN/pvcontrol" --status "$TMP/status.sock")

# Counters are updated when sessions close; give the proxy a moment.
for ((i = 0; i < 40; i++)); do
	json=$("${CLI[@]}" --json links ls) || fail "links ls --json failed"
	acc=$("$PY" -c 'import json,sys; l=json.load(sys.stdin)[0]; print(l["accepted"], l["bytes_in"], l["bytes_out"], l["active"], l["state"])' <<<"$json")
	read -r accepted bin bout active state <<<"$acc"
	((accepted == 3 && active == 0)) && break
	sleep 0.05
done
log "accepted=$accepted bytes_in=$bin bytes_out=$bout active=$active state=$state"
((accepted == 3)) || fail "accepted $accepted, want 3"
((bin == 3 * 4096 && bout == 3 * 4096)) || fail "bytes $bin/$bout, want 12288 each way"
[[ $state == listening ]] || fail "state $state"

table=$("${CLI[@]}" links ls) || fail "links ls failed"
grep -q "^LINK *TYPE *LISTENER" <<<"$table" || fail "no table header: $table"
grep -q "^cli-links .* 3 *0 *0 *12288/12288 *0/0 .* 0 *0 *-$" <<<"$table" || fail "row wrong: $table"

# No status socket there: cannot connect (3), saying what to do.
rc=0
"$PVX_BIN/pvcontrol" --status "$TMP/none.sock" links ls 2>"$TMP/err" || rc=$?
((rc == 3)) || fail "links ls without a status socket: exit $rc, want 3"
grep -q "is pv-xconnect running?.*--status SOCK" "$TMP/err" ||
	fail "no hint: $(cat "$TMP/err")"
