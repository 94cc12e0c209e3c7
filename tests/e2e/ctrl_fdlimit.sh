#!/usr/bin/env bash
# Issue 12, item 7: pv-ctrld raises its soft descriptor limit to the hard
# one (an inherited 1024 let ~1020 idle local clients lock everyone out,
# pv-xconnect's long-poll included), and at its limit it refuses the
# clients it cannot serve (the reserve descriptor accepts and closes them)
# instead of leaving them hanging; it serves again once clients leave.
# shellcheck source=lib/ctrl_lib.sh
source "$(dirname "$0")/lib/ctrl_lib.sh"

EX=$PVX_SRC/examples/ingress-hybrid

# hold N SECONDS: opens N idle connections to the control socket, prints
# "open=K" once they are all tried, holds them SECONDS, then prints
# "closed=C": how many the server closed meanwhile.
cat >"$T/hold.py" <<'PY'
import resource, select, socket, sys, time
n, secs, path = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for i in range(n):
    s = socket.socket(socket.AF_UNIX)
    s.setblocking(False)
    # A full backlog: EAGAIN, retried while the server accepts (bounded).
    give_up = time.monotonic() + 3
    while True:
        try:
            s.connect(path)
            held.append(s)
            break
        except BlockingIOError:
            if time.monotonic() > give_up:
                break
            time.sleep(0.002)
        except OSError as e:
            break
    if s not in held:
        s.close()
print(f"open={len(held)}", flush=True)
closed, end = set(), time.monotonic() + secs
while time.monotonic() < end:
    live = [s for s in held if s not in closed]
    if not live:
        break
    p = select.poll()
    for s in live:
        p.register(s, select.POLLIN | select.POLLHUP)
    for fd, ev in p.poll(200):
        s = next(x for x in live if x.fileno() == fd)
        try:
            if s.recv(1) == b"":
                closed.add(s)
        except BlockingIOError:
            pass
        except OSError:
            closed.add(s)
print(f"closed={len(closed)}", flush=True)
PY

soft_limit() { awk '/^Max open files/ {print $4}' "/proc/$1/limits"; }

# 1. An inherited soft limit of 1024 under a hard one of 4096.
CTRLD_WRAP=(prlimit --nofile=1024:4096)
"${CTRLD_WRAP[@]}" "$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$SOCK" \
	--state-dir "$SDIR" --no-runtime 2>>"$LOG" &
CTRLD=$!
OWN_PIDS+=("$CTRLD")
for ((i = 0; i < 100; i++)); do
	[[ $(status_of http://pvx/xconnect-graph 2>/dev/null) == 200 ]] && break
	alive "start"
	sleep 0.05
done
lim=$(soft_limit "$CTRLD")
[[ $lim == 4096 ]] || fail "soft open-files limit of pv-ctrld is $lim, want the hard 4096"
ok "soft open-files limit raised from 1024 to $lim"

# 1100 idle clients (more than the inherited 1024), all accepted before
# the API's 10 s idle timeout ends the first ones.
coproc HOLD { exec "$PY" -u "$T/hold.py" 1100 20 "$SOCK"; }
HOLD1=$HOLD_PID
OWN_PIDS+=("$HOLD1")
read -r -t 20 line <&"${HOLD[0]}" || fail "holder did not report"
[[ $line == open=1100 ]] || fail "holder: $line"
for ((i = 0; i < 50; i++)); do
	fds=$(ls "/proc/$CTRLD/fd" | wc -l)
	((fds > 1100)) && break
	sleep 0.1
done
((fds > 1100)) || fail "pv-ctrld holds $fds fds: the 1100 clients were not accepted"
code=$(api --max-time 5 -o "$T/body" -w '%{http_code}' http://pvx/xconnect-graph) || code=none
[[ $code == 200 ]] || fail "graph request with 1100 idle clients: $code"
ok "graph answered beside 1100 idle clients ($fds fds)"
kill "$HOLD1"
wait "$HOLD1" 2>/dev/null || true
stop_ctrld

# 2. At the limit (64 fds, hard): the clients beyond it are refused (closed
# by the server at once, not left hanging in the backlog until others time
# out), and service resumes when the idle ones go.
"$PVX_BIN/pv-ctrld" --state "$EX" --ctrl "$SOCK" --state-dir "$SDIR" \
	--no-runtime 2>>"$LOG" &
CTRLD=$!
OWN_PIDS+=("$CTRLD")
for ((i = 0; i < 100; i++)); do
	[[ $(status_of http://pvx/xconnect-graph 2>/dev/null) == 200 ]] && break
	alive "start"
	sleep 0.05
done
prlimit --pid "$CTRLD" --nofile=64:64
"$PY" -u "$T/hold.py" 100 6 "$SOCK" >"$T/hold2.out" 2>&1 &
HOLD2=$!
OWN_PIDS+=("$HOLD2")
wait "$HOLD2" || fail "holder failed: $(cat "$T/hold2.out")"
line=$(grep '^closed=' "$T/hold2.out") || fail "holder: $(cat "$T/hold2.out")"
closed=${line#closed=}
# Within 6 s no client can have hit the 10 s idle timeout: what was closed
# was refused by the reserve descriptor.
((closed >= 1)) || fail "no client beyond the fd limit was refused ($line)"
grep -q 'one client refused' "$LOG" || fail "no log line for the refused clients"
alive "fd exhaustion"
code=none
for ((i = 0; i < 50; i++)); do
	code=$(api --max-time 5 -o "$T/body" -w '%{http_code}' http://pvx/xconnect-graph) || code=none
	[[ $code == 200 ]] && break
	sleep 0.1
done
[[ $code == 200 ]] || fail "no service after the idle clients left: $code"
ok "at the fd limit $closed clients refused at once; service resumes"
stop_ctrld
echo PASS
