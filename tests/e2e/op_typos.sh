#!/usr/bin/env bash
# Issue 11, typos: `pv-ctrld --check` shows an unknown key as a warning
# naming file, JSON path and the closest known key ("requried" drops a
# requirement, and now says so); an unknown container type ("proccess") is
# refused; a folder without containers is a warning. PUT /state returns the
# same warnings in its 200 answer, and `pvcontrol state load` prints them.
# Unix sockets only (pv-ctrld --no-runtime).
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

check() { "$PVX_BIN/pv-ctrld" --check "$@"; }

# A requirement under a misspelt key: valid, but not silent.
cp -r "$PVX_SRC/examples/mesh-unix" "$T/typo"
sed -i 's/"required"/"requried"/' "$T/typo/app/run.json"
check "$T/typo" >"$T/out" 2>"$T/err" || fail "--check refused: $(cat "$T/err")"
want="warning: app/run.json: services.requried: unknown key, ignored (did you mean 'required'?)"
grep -qxF "$want" "$T/err" || fail "--check: no typo warning: $(cat "$T/err")"
ok "--check warns: $want"

# An unknown container type is an error, with the accepted ones.
cp -r "$PVX_SRC/examples/mesh-unix" "$T/type"
sed -i 's/"type": "lxc"/"type": "proccess"/' "$T/type/provider/run.json"
rc=0
check "$T/type" >"$T/out" 2>"$T/err" || rc=$?
[[ $rc == 1 ]] || fail "--check with type proccess: exit $rc, want 1"
grep -q "^provider/run.json: type: unknown container type 'proccess' (did you mean 'process'?" "$T/err" ||
	fail "--check: type error not named: $(cat "$T/err")"
ok "--check refuses type 'proccess': $(head -n1 "$T/err")"

# A folder holding no container.
mkdir -p "$T/empty/notacontainer"
check "$T/empty" >"$T/out" 2>"$T/err" || fail "--check on an empty folder: $(cat "$T/err")"
grep -q "^warning: $T/empty: no container" "$T/err" ||
	fail "--check on an empty folder: no warning: $(cat "$T/err")"
ok "--check on a folder without containers: $(cat "$T/err")"

# PUT /state: 200 with the warnings.
start_ctrld "$PVX_SRC/examples/mesh-unix"
"$PY" - "$T/typo" "$T/typo.json" <<'PY'
import json, os, sys
d, out = sys.argv[1], sys.argv[2]
s = {"#spec": "pantavisor-service-system@1"}
for c in os.listdir(d):
    for f in ("run.json", "services.json"):
        p = os.path.join(d, c, f)
        if os.path.isfile(p):
            s[c + "/" + f] = json.load(open(p))
json.dump(s, open(out, "w"))
PY
code=$(status_of -X PUT --data-binary @"$T/typo.json" http://pvx/state)
[[ $code == 200 ]] || fail "PUT /state: HTTP $code: $(cat "$T/body")"
"$PY" - "$T/body" <<'PY' || fail "PUT /state warnings: $(cat "$T/body")"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["status"] == "applied", r
assert "app/run.json: services.requried: unknown key, ignored (did you mean 'required'?)" in r["warnings"], r
PY
ok "PUT /state answers 200 with the warning"

pvcontrol state load "$T/typo" >"$T/out" 2>"$T/err" || fail "state load: $(cat "$T/err")"
grep -q "services.requried: unknown key, ignored (did you mean 'required'?)" "$T/out" "$T/err" ||
	fail "pvcontrol state load: warning not shown: $(cat "$T/out" "$T/err")"
ok "pvcontrol state load shows the warning"
stop_ctrld
