#!/usr/bin/env bash
# Adversarial graph files against pv-xconnect --graph-file (issue 3,
# done-when 9): the file replaced by a directory, a symlink to /dev/zero,
# a 9 MiB file, a file written slowly in pieces, a FIFO. Each would move
# the link to backend B if applied; the link must keep answering from
# backend A the whole time (the event loop never blocks on the file), and
# a good file afterwards is applied. Private network namespace, loopback.
# shellcheck source=lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
GA=$(link_json keep "127.0.0.1:$P1" "$BA")
GB=$(link_json keep "127.0.0.1:$P1" "$BB")
write_graph "$GA"
start_xc
wait_listen "$P1"
[[ $(ask "127.0.0.1:$P1" hi) == A:hi ]] || fail "link not up on backend A"

# still_a WHAT: for ~1 s the link answers from A (every probe answered:
# the daemon neither hangs nor drops the link).
still_a() {
	local i r
	for ((i = 0; i < 5; i++)); do
		r=$(ask "127.0.0.1:$P1" "p$i")
		[[ $r == "A:p$i" ]] || fail "$1: link answered '$r', want 'A:p$i'"
		kill -0 "$XC_PID" 2>/dev/null || fail "$1: pv-xconnect died"
		sleep 0.2
	done
}
G=$TMP/graph.json

rm -f "$G"
mkdir "$G"
still_a "graph file replaced by a directory"
rmdir "$G"
log "ok: a directory in place of the graph file is ignored"

ln -s /dev/zero "$G"
still_a "graph file a symlink to /dev/zero"
rm -f "$G"
log "ok: a symlink to /dev/zero is ignored"

"$PY" -c 'import sys; sys.stdout.write("[" + ",".join([sys.argv[1]] * 52000) + "]")' "$GB" >"$TMP/big.json"
(($(stat -c %s "$TMP/big.json") > 9 * 1024 * 1024)) || fail "big graph too small"
mv "$TMP/big.json" "$G"
still_a "a graph file over 9 MiB"
log "ok: a graph file over 9 MiB is refused ($(grep -c 'graph' "$TMP/xc.log") graph log lines)"

# Written in place, slowly: pieces of the moved graph 200 ms apart. No
# prefix of it is a valid graph, and the last piece completes it: only
# then may it be applied.
: >"$G"
text="[$GB]"
for ((i = 0; i < ${#text}; i += 40)); do
	printf '%s' "${text:i:40}" >>"$G"
	((i + 40 < ${#text})) || break # the last piece completes it
	sleep 0.2
	r=$(ask "127.0.0.1:$P1" w)
	[[ $r == A:w ]] || fail "slow write: link answered '$r' after $((i + 40)) of ${#text} bytes"
done
printf '\n' >>"$G"
until_ms 3000 eval '[[ $(ask "127.0.0.1:$P1" x) == B:x ]]' >/dev/null ||
	fail "slow write: the complete graph was not applied"
log "ok: a graph written slowly in place is applied once complete"
write_graph "$GA"
until_ms 3000 eval '[[ $(ask "127.0.0.1:$P1" x) == A:x ]]' >/dev/null ||
	fail "back to A: not applied"

# A FIFO in place of the file: opening it blocks until a writer comes; if
# pv-xconnect opens it in its event loop, every link stops.
rm -f "$G"
mkfifo "$G"
still_a "graph file replaced by a FIFO (no writer)"
log "ok: a FIFO in place of the graph file does not block the data plane"
rm -f "$G"
write_graph "$GB"
until_ms 3000 eval '[[ $(ask "127.0.0.1:$P1" x) == B:x ]]' >/dev/null ||
	fail "good graph after the hostile files: not applied"
log "ok: a good graph file afterwards is applied"
