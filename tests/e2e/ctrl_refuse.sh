#!/usr/bin/env bash
# Issue 2, done-when 3 (API part): PUT /state with a state holding three
# independent errors answers 400 listing all three; nothing changes: the
# graph is byte-identical, the lease file and containers too. Same for a
# JSON syntax error, for POST /state/reload and SIGHUP of a broken source.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid
cp "$EX/state.json" "$T/src.json"
start_ctrld "$T/src.json"

snapshot() { # snapshot TAG
	api -D "$T/$1.hdr" http://pvx/xconnect-graph >"$T/$1.graph"
	api http://pvx/containers >"$T/$1.cts"
	cp "$SDIR/leases.json" "$T/$1.leases"
}
unchanged() { # unchanged TAG WHAT
	snapshot after
	cmp -s "$T/$1.graph" "$T/after.graph" || fail "$2: graph changed"
	cmp -s "$T/$1.cts" "$T/after.cts" || fail "$2: containers changed"
	cmp -s "$T/$1.leases" "$T/after.leases" || fail "$2: leases changed"
	[[ $(grep -i '^etag' "$T/$1.hdr") == $(grep -i '^etag' "$T/after.hdr") ]] ||
		fail "$2: ETag changed"
}
snapshot before

# Three independent errors, in three places.
"$PY" - "$EX/state.json" "$T/bad3.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["device.json"]["ingress"][0]["external"] = "0.0.0.0:70000"
s["device.json"]["network"]["pools"]["internal"]["gateway"] = "10.0.5.1"
s["example-nginx-ingress/services.json"]["services"][1]["port"] = "abc"
# A new container that must not get a lease from a refused state.
s["newbie/run.json"] = {"name": "newbie", "type": "lxc",
                        "network": {"pool": "internal"}}
json.dump(s, open(sys.argv[2], "w"))
PY
code=$(status_of -X PUT --data-binary @"$T/bad3.json" http://pvx/state)
[[ $code == 400 ]] || fail "bad state: HTTP $code, want 400"
"$PY" - "$T/body" <<'PY' || fail "error list: $(cat "$T/body")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["error"] == "invalid state", r
errs = r["errors"]
want = [
    ("device.json", "ingress[0].external", "70000"),
    ("device.json", "gateway", "outside"),
    ("example-nginx-ingress/services.json", "services[1].port", "abc"),
]
for f, path, reason in want:
    hits = [e for e in errs if e.startswith(f + ":") and path in e and reason in e]
    assert hits, f"no error naming {f} {path} {reason}: {errs}"
PY
unchanged before "refused PUT /state"
alive "after a refused state"
ok "PUT /state with three errors: 400 listing all three, nothing changed"

# pvcontrol prints the list and exits 1.
rc=0; pvcontrol state load "$T/bad3.json" 2>"$T/e" || rc=$?
[[ $rc == 1 ]] || fail "pvcontrol state load bad: exit $rc"
[[ $(grep -c '^  ' "$T/e") -ge 3 ]] || fail "pvcontrol did not list the errors: $(cat "$T/e")"
unchanged before "refused pvcontrol state load"
ok "pvcontrol state load: errors listed, exit 1"

# JSON syntax error: line and column.
printf '{\n "#spec": "pantavisor-service-system@1",\n "device.json": {,}\n}\n' >"$T/syntax.json"
code=$(status_of -X PUT --data-binary @"$T/syntax.json" http://pvx/state)
[[ $code == 400 ]] || fail "syntax error: HTTP $code"
grep -q 'state.json:3:' "$T/body" || fail "no line:column: $(cat "$T/body")"
code=$(status_of -X PUT --data-binary '' http://pvx/state)
[[ $code == 400 ]] || fail "empty body: HTTP $code"
code=$(status_of -X PUT --data-binary '[1,2]' http://pvx/state)
[[ $code == 400 ]] || fail "array body: HTTP $code"
unchanged before "refused syntax errors"
ok "syntax errors, empty and non-object bodies: 400, nothing changed"

# The source itself goes bad: reload and SIGHUP refuse, nothing changes.
cp "$T/bad3.json" "$T/src.json"
code=$(status_of -X POST http://pvx/state/reload)
[[ $code == 400 ]] || fail "reload of a bad source: HTTP $code"
"$PY" -c 'import json,sys; r=json.load(open(sys.argv[1])); assert len(r["errors"]) >= 3, r' \
	"$T/body" || fail "reload error list: $(cat "$T/body")"
kill -HUP "$CTRLD"
sleep 0.3
alive "after SIGHUP with a bad source"
grep -q "state refused" "$LOG" || fail "no log line for the refusal"
unchanged before "refused reload"
ok "POST /state/reload and SIGHUP of a broken source: refused, nothing changed"

# A good state still applies afterwards.
code=$(status_of -X PUT --data-binary @"$EX/state.json" http://pvx/state)
[[ $code == 200 ]] || fail "good state after refusals: HTTP $code $(cat "$T/body")"
grep -q '"status":"applied"' "$T/body" || fail "answer: $(cat "$T/body")"
ok "a good state applies after the refusals"

# A daemon must not start on a broken state: errors printed, exit 1.
rc=0
"$PVX_BIN/pv-ctrld" --state "$T/bad3.json" --ctrl "$T/other.sock" \
	--state-dir "$T/other" --no-runtime 2>"$T/e" || rc=$?
[[ $rc == 1 ]] || fail "start on a bad state: exit $rc"
[[ $(grep -c 'json:' "$T/e") -ge 3 ]] || fail "start errors: $(cat "$T/e")"
[[ ! -e $T/other.sock ]] || fail "socket created for a refused start"
ok "start on a broken state: every error printed, exit 1"
stop_ctrld
