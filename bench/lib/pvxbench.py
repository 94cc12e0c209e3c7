#!/usr/bin/env python3
"""Measurement engine of the pvx benchmark suite (bench/run sets the stage).

Runs inside the sandbox namespace that bench/run created, against proxies
it started; `measure` writes one JSON object per sample to a raw file that
`report` (bench/lib/report.py) turns into the table.  Every load is bounded
in time (subprocess timeouts) and count (connections, trials).
"""

import argparse
import json
import os
import re
import resource
import socket
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr,
          flush=True)


# ------------------------------------------------------------ process trees
def _ppid_map():
    """pid -> ppid for every process we can see."""
    m = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        m[int(d)] = int(s[s.rindex(")") + 2:].split()[1])
    return m


def tree(pids):
    """The given pids and all their descendants (a forking proxy)."""
    if not pids:
        return []
    m = _ppid_map()
    kids = {}
    for p, pp in m.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], [p for p in pids if p in m]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _stat_fields(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    return s[s.rindex(")") + 2:].split()  # [0] is field 3 (state)


def cpu_ticks(top):
    """utime+stime of the tree, plus cutime+cstime of the top pids: a
    forking proxy (socat) reaps its per-connection children, whose CPU then
    shows up in the parent's c-fields."""
    total = 0
    for p in tree(top):
        try:
            f = _stat_fields(p)
        except OSError:
            continue
        total += int(f[11]) + int(f[12])
        if p in top:
            total += int(f[13]) + int(f[14])
    return total


def mem_sample(top):
    """Sums over the tree: VmRSS, Pss (shared pages divided among the
    processes sharing them, so N forked children are not counted N times),
    open fds, process count."""
    rss = pss = fds = n = 0
    for p in tree(top):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{p}/fd"))
            n += 1
        except OSError:
            continue
    return {"rss_kib": rss, "pss_kib": pss, "fds": fds, "procs": n}


# ------------------------------------------------------------ raw output
class Raw:
    def __init__(self, path):
        self.f = open(path, "a")

    def put(self, **kv):
        kv["t"] = round(time.time(), 3)
        self.f.write(json.dumps(kv) + "\n")
        self.f.flush()


# ------------------------------------------------------------ bulk (iperf3)
def run_iperf(port, secs, reverse):
    cmd = ["iperf3", "-c", "127.0.0.1", "-p", str(port), "-t", str(secs),
           "-J", "--connect-timeout", "3000"]
    if reverse:
        cmd.append("-R")
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=secs + 20)
    try:
        j = json.loads(p.stdout)
    except ValueError:
        return {"error": f"iperf3 rc={p.returncode}: no JSON: "
                f"{p.stderr.strip()[:200]}"}
    if "error" in j:
        return {"error": f"iperf3: {j['error']}"}
    end = j["end"]
    recv = end["sum_received"]
    return {
        "bytes": int(recv["bytes"]),
        "gbps": recv["bits_per_second"] / 1e9,
        "retransmits": end.get("sum_sent", {}).get("retransmits"),
        "cpu_client_pct": end.get("cpu_utilization_percent", {}).get(
            "host_total"),
        "cpu_server_pct": end.get("cpu_utilization_percent", {}).get(
            "remote_total"),
    }


# ------------------------------------------------------------ HTTP (wrk)
_UNIT = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _ms(txt):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", txt)
    if not m:
        raise ValueError(f"bad wrk time {txt!r}")
    return float(m.group(1)) * _UNIT[m.group(2)]


def run_wrk(port, secs, conns, close):
    url = f"http://127.0.0.1:{port}/s.html"
    cmd = ["wrk", "-t1", f"-c{conns}", f"-d{secs}s", "--latency"]
    if close:
        cmd += ["-H", "Connection: close"]
    cmd.append(url)
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=secs + 20)
    out = p.stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    if p.returncode != 0 or not m:
        return {"error": f"wrk rc={p.returncode}: "
                f"{(p.stderr or out).strip()[:200]}"}
    r = {"rps": float(m.group(1))}
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.M)
        r[key] = _ms(m.group(1)) if m else None
    m = re.search(r"([0-9]+) requests in", out)
    r["requests"] = int(m.group(1)) if m else None
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    r["socket_errors"] = sum(map(int, m.groups())) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    return r


# ------------------------------------------------------------ DNAT row
def nft(conf, on):
    """The DNAT row is only present while it is measured: a nat chain
    turns on connection tracking for the whole namespace, which would tax
    every other row."""
    if on:
        subprocess.run(["nft", "-f", conf], check=True, timeout=10)
    else:
        subprocess.run(["nft", "delete", "table", "ip", "pvxbench"],
                       check=False, timeout=10, stderr=subprocess.DEVNULL)


# ------------------------------------------------------------ idle conns
def hold(port, n, deadline):
    """Opens up to n connections to 127.0.0.1:port (blocking connects in
    batches so the proxy's accept queue never overflows); returns them."""
    socks = []
    try:
        while len(socks) < n and time.monotonic() < deadline:
            for _ in range(min(200, n - len(socks))):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.settimeout(3)
                try:
                    s.connect(("127.0.0.1", port))
                except OSError:
                    s.close()
                    return socks
                socks.append(s)
            time.sleep(0.005)
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def wait_fds(top, want_min, deadline):
    """Waits until the proxy holds at least want_min fds and the count is
    stable (the proxy has accepted and dialled the backend for each)."""
    last, stable = None, 0
    while time.monotonic() < deadline:
        s = mem_sample(top)
        if s["fds"] == last and s["fds"] >= want_min:
            stable += 1
            if stable >= 2:
                return s
        else:
            stable = 0
        last = s["fds"]
        time.sleep(0.2)
    return mem_sample(top)


def measure_memory(raw, row, counts):
    top = row["pids"]
    idle = mem_sample(top)
    raw.put(row=row["name"], test="mem_idle", **idle)
    log(f"{row['name']}: idle rss={idle['rss_kib']} KiB fds={idle['fds']}")
    for n in counts:
        if n > row.get("mem_max", n):
            raw.put(row=row["name"], test=f"mem_{n}", skipped=row.get(
                "mem_skip_why", "skipped"))
            continue
        deadline = time.monotonic() + 40
        socks = hold(row["http_port"], n, deadline)
        try:
            s = wait_fds(top, idle["fds"] + 2 * len(socks) * 98 // 100,
                         min(deadline, time.monotonic() + 20))
            # every held connection must still be open end to end
            alive = 0
            for c in socks:
                try:
                    c.setblocking(False)
                    if c.recv(1) == b"":
                        continue
                except BlockingIOError:
                    alive += 1
                except OSError:
                    continue
        finally:
            for c in socks:
                c.close()
        d = {k: s[k] for k in ("rss_kib", "pss_kib", "fds", "procs")}
        raw.put(row=row["name"], test=f"mem_{n}", opened=len(socks),
                alive=alive, wanted=n, **d,
                kib_per_conn_rss=(s["rss_kib"] - idle["rss_kib"]) / max(1, n),
                kib_per_conn_pss=(s["pss_kib"] - idle["pss_kib"]) / max(1, n),
                fds_per_conn=(s["fds"] - idle["fds"]) / max(1, n))
        log(f"{row['name']}: {n} conns (opened {len(socks)}, alive {alive})"
            f" rss={s['rss_kib']} pss={s['pss_kib']} KiB fds={s['fds']}")
        # let the proxy close its side before the next step
        deadline = time.monotonic() + 15
        while (time.monotonic() < deadline and
               mem_sample(top)["fds"] > idle["fds"] + 8):
            time.sleep(0.2)


# ------------------------------------------------------------ reconcile
def _port_accepts(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.connect(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def _until(port, want, limit_s):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if _port_accepts(port) == want:
            return time.monotonic()
        time.sleep(0.0005)
    return None


def _write_atomic(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.rename(tmp, path)


def measure_reconcile(raw, cfg, trials):
    """Graph-file mode: adds a link (atomic rename of the graph file), times
    until its port accepts; then removes it, times until it refuses."""
    rc = cfg["reconcile"]
    path = rc["graph_file"]
    with open(path) as f:
        base = json.load(f)
    for i in range(trials):
        port = rc["first_port"] + i
        link = dict(base[0], name=f"bench-reconcile-{i}",
                    target=f"127.0.0.1:{port}", socket=rc["backend"])
        if _port_accepts(port):
            raise SystemExit(f"reconcile: port {port} busy before the test")
        t0 = time.monotonic()
        _write_atomic(path, base + [link])
        t1 = _until(port, True, 5.0)
        add_ms = None if t1 is None else (t1 - t0) * 1e3
        time.sleep(0.05)
        t0 = time.monotonic()
        _write_atomic(path, base)
        t1 = _until(port, False, 5.0)
        del_ms = None if t1 is None else (t1 - t0) * 1e3
        raw.put(row="pvx", test="reconcile", via="graph-file",
                add_ms=add_ms, remove_ms=del_ms, trial=i)
        log(f"pvx reconcile (graph file) trial {i}: add "
            f"{'timeout' if add_ms is None else f'{add_ms:.1f} ms'}, remove "
            f"{'timeout' if del_ms is None else f'{del_ms:.1f} ms'}")
        time.sleep(0.05)


# ------------------------------------------------------------ main loop
def measure(args):
    with open(args.config) as f:
        cfg = json.load(f)
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    raw = Raw(args.raw)
    secs, reps = cfg["seconds"], cfg["reps"]
    rows = cfg["rows"]
    by = {r["name"]: r for r in rows}
    phases = cfg.get("phases", ["mem", "bulk_fwd", "bulk_rev", "rr_ka",
                                "rr_close", "reconcile"])

    if "mem" in phases:
        for r in rows:
            if r.get("pids") and r.get("mem", True):
                measure_memory(raw, r, cfg["mem_counts"])

    proxies = [r["name"] for r in rows if r["name"] != "direct"]
    for test in ("bulk_fwd", "bulk_rev", "rr_ka", "rr_close"):
        if test not in phases:
            continue
        for rep in range(reps):
            # direct first in every round, proxies rotated so that none
            # always runs right after the baseline
            k = rep % max(1, len(proxies))
            order = ["direct"] + proxies[k:] + proxies[:k]
            for name in order:
                r = by[name]
                if r.get("dnat_conf"):
                    nft(r["dnat_conf"], True)
                try:
                    c0 = cpu_ticks(r["pids"])
                    w0 = time.monotonic()
                    if test.startswith("bulk"):
                        res = run_iperf(r["bulk_port"], secs,
                                        test == "bulk_rev")
                    else:
                        res = run_wrk(r["http_port"], secs, cfg["wrk_conns"],
                                      test == "rr_close")
                    time.sleep(0.2)  # a forking proxy reaps its children
                    c1 = cpu_ticks(r["pids"])
                finally:
                    if r.get("dnat_conf"):
                        nft(r["dnat_conf"], False)
                res["wall_s"] = round(time.monotonic() - w0, 3)
                if r["pids"]:
                    res["proxy_cpu_s"] = (c1 - c0) / CLK_TCK
                raw.put(row=name, test=test, rep=rep, **res)
                brief = {k: (round(v, 3) if isinstance(v, float) else v)
                         for k, v in res.items()
                         if k in ("gbps", "rps", "p99_ms", "proxy_cpu_s",
                                  "error")}
                log(f"{test} rep {rep} {name}: {brief}")
                time.sleep(0.3)  # let TIME_WAIT and buffers settle

    if "reconcile" in phases and cfg.get("reconcile"):
        measure_reconcile(raw, cfg, cfg["reconcile"]["trials"])


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--config", required=True)
    m.add_argument("--raw", required=True)
    s = sub.add_parser("sample", help="print mem/cpu of pid trees (debug)")
    s.add_argument("pids", nargs="+", type=int)
    args = ap.parse_args()
    if args.cmd == "measure":
        measure(args)
    else:
        print(json.dumps(dict(mem_sample(args.pids),
                              cpu_s=cpu_ticks(args.pids) / CLK_TCK)))


if __name__ == "__main__":
    main()
