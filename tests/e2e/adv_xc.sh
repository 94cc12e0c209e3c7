#!/usr/bin/env bash
# Adversarial graph server against pv-xconnect --ctrl (issue 3, done-when 9
# and 10, and "the control socket going away never stops running links"):
# answers that are garbage, not JSON, 500, an unasked 304, a huge or
# overflowing Content-Length, cut short, badly chunked, a 1 MiB header, a
# NUL in the body, a 24 MiB body, silence. Each would move the link to
# backend B if it were (partly) applied: the link must keep answering from
# backend A, pv-xconnect must stay up with bounded memory, and ask again.
# Last, the moved graph trickled byte by byte must be applied whole.
# Runs in a private network namespace (xc_tcp_lib.sh), loopback only.
# shellcheck source=lib/xc_graph_lib.sh
source "$(dirname "$0")/lib/xc_graph_lib.sh"

tag_backend be-a A
BA=127.0.0.1:$READY
tag_backend be-b B
BB=127.0.0.1:$READY
P1=$(freeport)
printf '[%s]\n' "$(link_json keep "127.0.0.1:$P1" "$BA")" >"$TMP/graph-a.json"
printf '[%s]\n' "$(link_json keep "127.0.0.1:$P1" "$BB")" >"$TMP/graph-b.json"

# ASan keeps freed memory in quarantine: allow more growth there.
GROWTH=$((32 * 1024))
if grep -qa __asan_init "$PVX_BIN/pv-xconnect"; then GROWTH=$((160 * 1024)); fi
"${ORPHAN_GUARD[@]}" "$PY" -u "$PVX_SRC/tests/e2e/lib/adv.py" xc \
	--sock "$TMP/ctl.sock" --xconnect "$PVX_BIN/pv-xconnect" \
	--graph-a "$TMP/graph-a.json" --graph-b "$TMP/graph-b.json" \
	--probe "127.0.0.1:$P1" --log "$TMP/xc.log" --rss-growth-kb "$GROWTH" </dev/null &
ADVPID=$!
PIDS+=("$ADVPID")
rc=0
wait "$ADVPID" || rc=$?
((rc == 0)) || fail "adv.py xc exited $rc (see above)"
if grep -E "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/xc.log" >/dev/null; then
	grep -E -A20 "AddressSanitizer|LeakSanitizer|runtime error:" "$TMP/xc.log" | head -40 >&2
	fail "sanitizer report in pv-xconnect's log"
fi
n=$(grep -c "graph refused" "$TMP/xc.log" || true)
((n >= 2)) || fail "the non-JSON and NUL answers were not logged as refused graphs ($n)"
log "pv-xconnect logged $n refused graphs and $(grep -c 'control socket' "$TMP/xc.log" || true) control socket problems"
