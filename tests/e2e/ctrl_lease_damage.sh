#!/usr/bin/env bash
# Issue 12, item 4: a damaged lease file (truncated, invalid, empty) at
# start does not move any address: pv-ctrld uses the previous generation
# (leases.json.prev), moves the damaged file aside with its bytes (never
# overwrites it) and says so in its log. The addresses are chosen so that a
# fresh assignment would swap them. With no valid generation at all, both
# files are moved aside and the loss is logged. docs/graph.md.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

damaged() { compgen -G "$SDIR/leases.json.damaged-*" | wc -l; }

# nginx first, then aaa: nginx 10.0.4.2, aaa 10.0.4.3. A fresh start on
# the same source would give aaa (first by name) 10.0.4.2.
gen "$T/s1.json"
gen "$T/s2.json" aaa
start_ctrld "$T/s1.json"
status_of -X PUT --data-binary @"$T/s2.json" http://pvx/state >/dev/null
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
stop_ctrld
# Another start saves again: leases.json and leases.json.prev both hold
# the two leases from here on.
start_ctrld "$T/s2.json"
leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
[[ -s $SDIR/leases.json.prev ]] || fail "no previous generation kept"
ok "two generations on disk: leases.json and leases.json.prev"

n=0
for kind in truncated invalid empty; do
	stop_ctrld
	case $kind in
	truncated) truncate -s 37 "$SDIR/leases.json" ;;
	invalid) printf '{"version": 1, "leases": [{"container": 7}]}\n' >"$SDIR/leases.json" ;;
	empty) : >"$SDIR/leases.json" ;;
	esac
	cp "$SDIR/leases.json" "$T/damage.$kind"
	: >"$LOG"
	start_ctrld "$T/s2.json"
	leases_are example-nginx-ingress=10.0.4.2 aaa=10.0.4.3
	n=$((n + 1))
	[[ $(damaged) == "$n" ]] || fail "$kind: $(damaged) damaged files kept, want $n"
	# The newest one moved aside holds exactly the damaged bytes.
	f=$(ls -t "$SDIR"/leases.json.damaged-* | head -1)
	cmp -s "$f" "$T/damage.$kind" || fail "$kind: $f is not the damaged file"
	grep -q 'LEASE FILE DAMAGED' "$LOG" || fail "$kind: damage not logged"
	grep -q 'previous generation' "$LOG" || fail "$kind: fallback not logged"
	ok "$kind leases.json: addresses kept, damaged file moved aside to ${f##*/}"
done

# Both generations damaged: nothing valid is left. Both are moved aside
# (never overwritten) and the loss is said; the daemon still serves.
stop_ctrld
printf '{' >"$SDIR/leases.json"
: >"$SDIR/leases.json.prev"
: >"$LOG"
start_ctrld "$T/s2.json"
[[ $(damaged) == $((n + 2)) ]] || fail "both damaged: $(damaged) damaged files, want $((n + 2))"
grep -q 'LEASES LOST' "$LOG" || fail "total loss not logged"
[[ $(status_of http://pvx/containers) == 200 ]] || fail "daemon does not serve"
ok "no valid generation: both moved aside, loss logged, daemon serves"
stop_ctrld
