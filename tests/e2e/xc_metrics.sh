# GET /metrics on pv-xconnect's status socket and its access log (issue
# 11): after tcp and http traffic (200s, a 404, a 503 of a dead backend, held until the connect timeout)
# the exposition passes the Prometheus text parser (python3-prometheus-
# client) and every per-link counter equals `pvcontrol links ls --json`;
# the access log has one JSON line per connection / request with link,
# client, backend, bytes, status and reason, follows a rotation on SIGHUP,
# and is off without --access-log.
source "$(dirname "$0")/lib/xc_http_lib.sh"

"$PY" -c 'import prometheus_client.parser' 2>/dev/null ||
	fail "python3-prometheus-client missing (scripts/install-deps)"

start_peer echo echo 127.0.0.1:0
ECHO=$READY
http_backend be api
BE=$READY
DEAD=$(freeport)
TP=$(freeport)
HP=$(freeport)
ALOG=$TMP/access.log

# A bad format is a usage error.
rc=0
"$PVX_BIN/pv-xconnect" --graph-file "$TMP/none" --access-log-format yaml \
	2>"$TMP/badfmt" || rc=$?
((rc == 2)) && grep -q "yaml" "$TMP/badfmt" || fail "--access-log-format yaml: exit $rc"

write_graph "$(link_json m-tcp "127.0.0.1:$TP" "127.0.0.1:$ECHO")" \
	"$(http_link m-api "127.0.0.1:$HP/api" "127.0.0.1:$BE" |
		sed 's/}$/,"ingress":"api-ingress"}/')" \
	"$(http_link m-dead "127.0.0.1:$HP/dead" "127.0.0.1:$DEAD")"
start_xc --access-log "$ALOG" --access-log-format json --connect-timeout 500
wait_listen "$TP"
wait_listen "$HP"

timeout 20 "$PY" "$PEERS" client "127.0.0.1:$TP" --bytes 5000 --conns 3 ||
	fail "echo through the tcp link"
for i in 1 2 3 4; do
	[[ $(code "http://127.0.0.1:$HP/api/x$i?q=1") == 200 ]] || fail "GET /api/x$i"
done
[[ $(code "http://127.0.0.1:$HP/api/post" --data-binary 0123456789) == 200 ]] ||
	fail "POST /api/post"
[[ $(code "http://127.0.0.1:$HP/nowhere") == 404 ]] || fail "no route: not 404"
[[ $(code "http://127.0.0.1:$HP/dead/x") == 503 ]] || fail "dead backend: not 503"

CLI=("$PVX_BIN/pvcontrol" --status "$TMP/status.sock")
idle() { [[ $(status_field m-tcp active) == 0 && $(status_field m-api active) == 0 ]]; }
until_ms 5000 idle || fail "sessions still active"
"${CLI[@]}" --json links ls >"$TMP/links.json" || fail "links ls --json"
curl -sS -D "$TMP/metrics.head" --unix-socket "$TMP/status.sock" \
	http://x/metrics >"$TMP/metrics.txt" || fail "GET /metrics"
grep -qi '^content-type: text/plain; version=0.0.4' "$TMP/metrics.head" ||
	fail "content type: $(cat "$TMP/metrics.head")"

"$PY" - "$TMP/metrics.txt" "$TMP/links.json" <<'PY' || fail "metrics and links ls disagree"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
links = json.load(open(sys.argv[2]))
fams = {f.name: f for f in text_string_to_metric_families(text)}
# The parser strips _total from counter family names.
want = {"pvx_link_accepted": "accepted", "pvx_link_failed": "failed",
        "pvx_link_denied": "denied",
        "pvx_link_active": "active", "pvx_link_bytes_in": "bytes_in",
        "pvx_link_bytes_out": "bytes_out",
        "pvx_link_refused_max_conns": "refused_max_conns",
        "pvx_link_refused_per_client": "refused_per_client",
        "pvx_link_timeout_first_byte": "timeout_first_byte",
        "pvx_link_timeout_header": "timeout_header",
        "pvx_link_requests": "requests",
        "pvx_link_backend_connects": "backend_connects",
        "pvx_link_backend_reused": "backend_reused"}
for fam, key in want.items():
    assert fam in fams, f"no family {fam}: {sorted(fams)}"
    samples = {s.labels["name"]: s.value for s in fams[fam].samples
               if not s.name.endswith("_created")}
    assert len(samples) == len(links), (fam, samples)
    for l in links:
        got = samples[l["name"]]
        assert got == l[key], f'{fam}{{name={l["name"]}}} = {got}, links ls says {l[key]}'
by = {l["name"]: l for l in links}
assert by["m-tcp"]["accepted"] == 3 and by["m-tcp"]["bytes_in"] == 15000, by["m-tcp"]
assert by["m-api"]["accepted"] == 5 and by["m-dead"]["failed"] == 1, by
up = {s.labels["name"]: s.value for s in fams["pvx_link_up"].samples}
assert up == {"m-tcp": 1, "m-api": 1, "m-dead": 1}, up
st = {s.labels["state"]: s.value for s in fams["pvx_links"].samples}
assert st["listening"] == 3 and st["failed"] == 0, st
api = [s for s in fams["pvx_link_accepted"].samples if s.labels["name"] == "m-api"][0]
assert api.labels["ingress"] == "api-ingress" and api.labels["type"] == "http", api.labels
print("metrics ok:", len(fams), "families")
PY

"$PY" - "$ALOG" "$ECHO" "$BE" "$DEAD" <<'PY' || { cat "$ALOG" >&2; fail "access log"; }
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
echo, be, dead = sys.argv[2:5]
tcp = [l for l in lines if l.get("type") == "tcp"]
assert len(tcp) == 3, tcp
for l in tcp:
    assert l["link"] == "m-tcp" and l["backend"] == "127.0.0.1:" + echo, l
    assert l["bytes_in"] == 5000 and l["bytes_out"] == 5000, l
    assert l["reason"] == "done" and l["client"].startswith("127.0.0.1:"), l
    assert "status" not in l, l
http = [l for l in lines if l.get("type") == "http"]
ok = [l for l in http if l.get("status") == 200]
assert len(ok) == 5, http
for l in ok:
    assert l["link"] == "api-ingress" and l["backend"] == "127.0.0.1:" + be, l
    assert l["reason"] == "done" and l["bytes_out"] > 0 and l["bytes_in"] > 0, l
assert {l["path"] for l in ok} >= {"/api/x1?q=1", "/api/post"}, ok
post = [l for l in ok if l["method"] == "POST"][0]
assert post["bytes_in"] > 10, post
nf = [l for l in http if l.get("status") == 404]
assert len(nf) == 1 and nf[0]["reason"] == "no route" and "link" not in nf[0], nf
bad = [l for l in http if l.get("status") == 503]
assert len(bad) == 1 and bad[0]["link"] == "m-dead", bad
assert bad[0]["backend"] == "127.0.0.1:" + dead and bad[0]["path"] == "/dead/x", bad
assert len(lines) == 3 + 5 + 2, len(lines)
print("access log ok:", len(lines), "lines")
PY

# Rotation: moved away, SIGHUP, new lines go to a new file.
mv "$ALOG" "$ALOG.1"
kill -HUP "$XC_PID"
has_new() { [[ -s $ALOG ]]; }
for ((i = 0; i < 50; i++)); do
	code "http://127.0.0.1:$HP/api/after" >/dev/null
	until_ms 100 has_new && break
done
has_new || fail "no new access log after SIGHUP"
grep -q '"path":"/api/after"' "$ALOG" || fail "new file: $(cat "$ALOG")"
(($(wc -l <"$ALOG.1") == 10)) || fail "rotated file changed"

# Off by default: no access log lines anywhere without the option.
stop_xc
: >"$TMP/xc.log"
start_xc
wait_listen "$HP"
[[ $(code "http://127.0.0.1:$HP/api/quiet") == 200 ]] || fail "GET after restart"
! grep -q '/api/quiet' "$TMP/xc.log" || fail "access line without --access-log"
! grep -q '/api/quiet' "$ALOG" || fail "access line in the old file"
