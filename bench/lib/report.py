#!/usr/bin/env python3
"""Turns the raw samples of bench/lib/pvxbench.py into the results table:
medians per row, ratios to the direct path, the targets of issue 5 checked
against the peers measured in the same run; writes latest.json/latest.md."""

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess

ORDER = ["direct", "pvx", "pvx-kr", "pvx-splice", "haproxy", "haproxy-auto", "haproxy-splice",
         "socat", "nginx", "dnat", "pvx-http", "pvx-pp", "haproxy-http",
         "nginx-http"]
LABEL = {
    "direct": "direct (no proxy)",
    "pvx": "pvx (pv-xconnect tcp)",
    "pvx-kr": "pvx tcp, kernel relay on",
    "pvx-splice": "pvx tcp, kernel relay off (splice)",
    "haproxy": "HAProxy tcp",
    "haproxy-auto": "HAProxy tcp splice-auto",
    "haproxy-splice": "HAProxy tcp splice forced",
    "socat": "socat (fork)",
    "nginx": "nginx stream",
    "dnat": "kernel DNAT (nftables)",
    "pvx-http": "pvx http plugin",
    "pvx-pp": "pvx tcp + PROXY v2",
    "haproxy-http": "HAProxy mode http",
    "nginx-http": "nginx http proxy_pass",
}
HAPROXY = ("haproxy", "haproxy-auto", "haproxy-splice")


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def cmd_out(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine(src):
    model = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    commit = cmd_out(["git", "-C", src, "describe", "--always", "--dirty"])
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "loadavg": os.getloadavg()[0],
        "pvx_commit": commit,
        "versions": {
            "haproxy": cmd_out(["haproxy", "-v"]),
            "nginx": cmd_out(["nginx", "-v"]),
            "socat": (cmd_out(["socat", "-V"]) or "").replace(
                "socat by Gerhard Rieger and contributors - see www.dest-unreach.org", "socat"),
            "iperf3": cmd_out(["iperf3", "-v"]),
            "wrk": cmd_out(["wrk", "-v"]),
        },
    }


def aggregate(raw, cfg):
    rows = {}
    raw = [r for r in raw if not r.get("discarded")]
    for r in raw:
        rows.setdefault(r["row"], []).append(r)
    out = {}
    for name, samples in rows.items():
        d = {"samples": samples}
        errors = [s["error"] for s in samples if s.get("error")]
        if errors:
            d["errors"] = errors
        for test in ("bulk_fwd", "bulk_rev"):
            ss = [s for s in samples if s["test"] == test and "gbps" in s]
            d[test + "_gbps"] = med([s["gbps"] for s in ss])
        cpu = [s["proxy_cpu_s"] / (s["bytes"] / 1e9) for s in samples
               if s["test"].startswith("bulk") and "proxy_cpu_s" in s
               and s.get("bytes")]
        d["cpu_s_per_gb"] = med(cpu)
        sysf = [s["proxy_sys_s"] / s["proxy_cpu_s"] for s in samples
                if s["test"].startswith("bulk") and s.get("proxy_cpu_s")
                and "proxy_sys_s" in s]
        d["bulk_cpu_sys_share"] = med(sysf)
        for test in ("rr_ka", "rr_close"):
            ss = [s for s in samples if s["test"] == test and "rps" in s]
            d[test + "_rps"] = med([s["rps"] for s in ss])
            d[test + "_p50_ms"] = med([s["p50_ms"] for s in ss])
            d[test + "_p99_ms"] = med([s["p99_ms"] for s in ss])
            d[test + "_errors"] = sum(s.get("socket_errors", 0) +
                                      s.get("non2xx", 0) for s in ss)
            cpu = [s["proxy_cpu_s"] / s["requests"] * 1e6 for s in ss
                   if "proxy_cpu_s" in s and s.get("requests")]
            d[test + "_cpu_us_per_req"] = med(cpu)
            sysf = [s["proxy_sys_s"] / s["proxy_cpu_s"] for s in ss
                    if s.get("proxy_cpu_s") and "proxy_sys_s" in s]
            d[test + "_cpu_sys_share"] = med(sysf)
            # http links: backend connections opened per 100 requests,
            # from the link's own counters (pv-xconnect's status socket).
            lr = sum(s.get("link_requests", 0) for s in ss)
            if lr:
                d[test + "_backend_per_100"] = 100 * sum(
                    s.get("link_backend_connects", 0) for s in ss) / lr
        idle = [s for s in samples if s["test"] == "mem_idle"]
        if idle:
            d["rss_idle_kib"] = idle[0]["rss_kib"]
            d["fds_idle"] = idle[0]["fds"]
        for n in cfg.get("mem_counts", []):
            m = [s for s in samples if s["test"] == f"mem_{n}"]
            if not m:
                continue
            m = m[0]
            if m.get("skipped"):
                d[f"mem_{n}"] = {"skipped": m["skipped"]}
                continue
            d[f"mem_{n}"] = {k: m[k] for k in (
                "opened", "alive", "held", "rss_kib", "pss_kib", "fds",
                "kib_per_conn_rss", "kib_per_conn_pss", "fds_per_conn")}
        for test in ("slow", "idle"):
            m = [s for s in samples if s["test"] == test]
            if m:
                d[test] = m[0]
        for via in ("graph-file", "pv-ctrld"):
            rec = [s for s in samples if s["test"] == "reconcile"
                   and s.get("via") == via]
            if not rec:
                continue
            adds = [s["add_ms"] for s in rec]
            ok = [a for a in adds if a is not None]
            d.setdefault("reconcile", {})[via] = {
                "trials": len(rec),
                "add_ms_median": med(ok), "add_ms_max": max(ok) if ok else None,
                "add_timeouts": adds.count(None),
                "remove_ms_median": med([s["remove_ms"] for s in rec]),
            }
        out[name] = d
    return out


def ratio(v, base):
    if v is None or not base:
        return None
    return v / base


def f_num(v, fmt="{:.2f}"):
    return "n/a" if v is None else fmt.format(v)


def f_ratio(v, base, fmt):
    if v is None:
        return "n/a"
    r = ratio(v, base)
    return fmt.format(v) + ("" if r is None else f" ({r:.2f}x)")


def kib_conn(d, n):
    m = d.get(f"mem_{n}")
    if not m:
        return "n/a"
    if "skipped" in m:
        return "skipped"
    s = f"{m['kib_per_conn_pss']:.1f}"
    if m["held"] < 0.98 * n:
        s += f" (only {m['held']} held)"
    return s


def paired(agg, a, b, test, key):
    """Median over rounds of a/b within the same round: the two ran back
    to back, so a slow drift of the machine's load cancels out."""
    def by_rep(name):
        return {s["rep"]: s[key] for s in agg.get(name, {}).get("samples", [])
                if s["test"] == test and s.get(key) is not None}
    x, y = by_rep(a), by_rep(b)
    return med([x[r] / y[r] for r in x if r in y and y[r]])


def best(agg, key, pick):
    vals = [(agg[h][key], h) for h in HAPROXY
            if h in agg and agg[h].get(key) is not None]
    return pick(vals) if vals else (None, None)


def http_targets(agg):
    """Issue 8: the http plugin against HAProxy mode http, and backend
    connections per keep-alive request (from the link's counters)."""
    t = []
    ph, hh = agg.get("pvx-http"), agg.get("haproxy-http")
    if not ph:
        return t

    def add(name, met, detail):
        t.append({"target": name, "met": met, "detail": detail})

    for test, what, goal in (("rr_ka", "keep-alive", 1.0),
                             ("rr_close", "new connection", 1.0)):
        name = f"http {what} req/s >= {goal:.1f}x HAProxy mode http"
        pr = paired(agg, "pvx-http", "haproxy-http", test, "rps") \
            if hh else None
        if pr is None:
            add(name, None, "not measured")
        else:
            add(name, pr >= goal,
                f"{pr:.2f}x (median of per-round ratios; medians "
                f"{ph[test + '_rps']:.0f} vs {hh[test + '_rps']:.0f})")
    a = ph.get("rr_ka_cpu_us_per_req")
    b = hh.get("rr_ka_cpu_us_per_req") if hh else None
    if a is None or b is None:
        add("http proxy CPU per keep-alive request <= HAProxy's", None,
            "not measured")
    else:
        add("http proxy CPU per keep-alive request <= HAProxy's", a <= b,
            f"{a:.1f} vs {b:.1f} us/request (medians)")
    bc = ph.get("rr_ka_backend_per_100")
    add("http backend connections <= 1 per 100 keep-alive requests",
        None if bc is None else bc <= 1,
        "not measured" if bc is None else
        f"{bc:.3f} per 100 requests (the link's backend_connects over "
        "its requests, all keep-alive rounds)")
    return t


def targets(agg):
    """Issue 5, "Done when" 2: each target, met or missed and by how much."""
    p = agg.get("pvx")
    t = []
    if not p:
        return [{"target": "all", "met": None, "detail": "pvx not measured"}]

    def add(name, met, detail):
        t.append({"target": name, "met": met, "detail": detail})

    hs = agg.get("haproxy-splice", {})
    for test, what in (("bulk_fwd", "client->server"),
                       ("bulk_rev", "server->client")):
        a, b = p.get(test + "_gbps"), hs.get(test + "_gbps")
        pr = paired(agg, "pvx", "haproxy-splice", test, "gbps")
        if a is None or b is None or pr is None:
            add(f"bulk {what} >= HAProxy splice forced", None, "not measured")
        else:
            add(f"bulk {what} >= HAProxy splice forced", pr >= 1,
                f"{pr:.2f}x (median of per-round ratios; medians {a:.2f} vs "
                f"{b:.2f} Gbit/s)")
    c = p.get("cpu_s_per_gb")
    add("proxy CPU <= 0.5 s/GB", None if c is None else c <= 0.5,
        "n/a" if c is None else f"{c:.3f} s/GB")
    for test, what in (("rr_ka", "keep-alive"), ("rr_close", "new connection")):
        a = p.get(test + "_rps")
        b, h = best(agg, test + "_rps", max)
        if a is None or b is None:
            add(f"req/s {what} >= 1.2x HAProxy", None, "not measured")
        else:
            pr = paired(agg, "pvx", h, test, "rps")
            add(f"req/s {what} >= 1.2x HAProxy", pr >= 1.2,
                f"{pr:.2f}x the best HAProxy ({h}; median of per-round "
                f"ratios; medians {a:.0f} vs {b:.0f})")
        a = p.get(test + "_p99_ms")
        b, h = best(agg, test + "_p99_ms", min)
        if a is None or b is None:
            add(f"p99 {what} <= HAProxy", None, "not measured")
        else:
            pr = paired(agg, "pvx", h, test, "p99_ms")
            add(f"p99 {what} <= HAProxy", pr <= 1,
                f"{pr:.2f}x the best HAProxy ({h}; median of per-round "
                f"ratios; medians {a:.2f} vs {b:.2f} ms)")
    # Issue 9: the PROXY header costs < 5 % of the new-connection rate.
    if "pvx-pp" in agg and agg["pvx-pp"].get("rr_close_rps") is not None \
            and p.get("rr_close_rps") is not None:
        pr = paired(agg, "pvx-pp", "pvx", "rr_close", "rps")
        add("new connections with PROXY v2 >= 0.95x plain pvx",
            None if pr is None else pr >= 0.95,
            "n/a" if pr is None else
            f"{pr:.3f}x (median of per-round ratios; medians "
            f"{agg['pvx-pp']['rr_close_rps']:.0f} vs "
            f"{p['rr_close_rps']:.0f} req/s)")
    elif "pvx-pp" in agg:
        add("new connections with PROXY v2 >= 0.95x plain pvx", None,
            "not measured")
    t.extend(http_targets(agg))
    mems = sorted((int(k[4:]), v) for k, v in p.items()
                  if k.startswith("mem_") and k[4:].isdigit() and
                  "kib_per_conn_pss" in v)
    if mems:
        n, m = mems[-1]
        full = m["held"] >= 0.98 * n
        add("<= 2 KiB RSS per idle connection",
            m["kib_per_conn_pss"] <= 2 and full,
            f"{m['kib_per_conn_pss']:.2f} KiB/conn with {m['held']} of {n} "
            "connections held" + ("" if full else
                                  " (the proxy did not carry them all)"))
    else:
        add("<= 2 KiB RSS per idle connection", None, "not measured")
    rec = p.get("reconcile", {})
    if not rec:
        add("reconcile < 100 ms", None, "not measured")
    for via, r in rec.items():
        if r["add_ms_max"] is not None and not r["add_timeouts"]:
            add(f"reconcile < 100 ms ({via})", r["add_ms_max"] < 100,
                f"median {r['add_ms_median']:.1f} ms, max "
                f"{r['add_ms_max']:.1f} ms over {r['trials']} trials")
        else:
            add(f"reconcile < 100 ms ({via})", False,
                f"{r['add_timeouts']} of {r['trials']} trials timed out (5 s)")
    return t


def targets_kernel(agg):
    """Issue 10's targets for the kernel relay (pvx-kr), against HAProxy and
    the splice relay (pvx-splice) of the same run."""
    k, sp = agg.get("pvx-kr"), agg.get("pvx-splice")
    t = []

    def add(name, met, detail):
        t.append({"target": name, "met": met, "detail": detail})
    if not k:
        return t
    a = k.get("rr_ka_rps")
    b, h = best(agg, "rr_ka_rps", max)
    pr = paired(agg, "pvx-kr", h, "rr_ka", "rps") if h else None
    add("kernel relay: req/s keep-alive >= 1.2x HAProxy",
        None if pr is None else pr >= 1.2,
        "not measured" if pr is None else
        f"{pr:.2f}x the best HAProxy ({h}; median of per-round ratios; "
        f"medians {a:.0f} vs {b:.0f})")
    c = k.get("rr_ka_cpu_us_per_req")
    add("kernel relay: proxy CPU per keep-alive request <= 2 us",
        None if c is None else c <= 2,
        "not measured" if c is None else f"{c:.1f} us")
    for test, what in (("bulk_fwd", "client->server"),
                       ("bulk_rev", "server->client")):
        pr = paired(agg, "pvx-kr", "pvx-splice", test, "gbps") if sp else None
        add(f"kernel relay: bulk {what} >= splice relay",
            None if pr is None else pr >= 1,
            "not measured" if pr is None else
            f"{pr:.2f}x (median of per-round ratios; medians "
            f"{k.get(test + '_gbps') or 0:.2f} vs "
            f"{sp.get(test + '_gbps') or 0:.2f} Gbit/s; "
            f"{(k.get(test + '_gbps') or 0) / (agg.get('direct', {}).get(test + '_gbps') or 1):.2f}x direct)")
    ks, ss = k.get("slow", {}), (sp or {}).get("slow", {})
    if "tcp_mem" in ks and "tcp_mem" in ss:
        mib = 1 << 20
        bound = max(2 * ss["tcp_mem"], 16 * mib)
        met = (ks["tcp_mem"] <= bound and ks["inflight"] <= 2 * ss["inflight"]
               + 16 * mib and ks["rss"] <= mib)
        add("kernel relay: slow reader bounded like the splice relay", met,
            f"TCP memory +{ks['tcp_mem'] / mib:.1f} MiB (splice "
            f"+{ss['tcp_mem'] / mib:.1f}; bound max(2x splice, 16 MiB)), "
            f"accepted-not-read {ks['inflight'] / mib:.1f} MiB (splice "
            f"{ss['inflight'] / mib:.1f}), RSS +{ks['rss'] / 1024:.0f} KiB "
            f"(bound 1 MiB), MemAvailable -{ks['avail_drop'] / mib:.0f} MiB "
            f"(machine-wide)")
    else:
        add("kernel relay: slow reader bounded like the splice relay", None,
            "not measured" + (f": {ks['error']}" if "error" in ks else ""))
    ki = k.get("idle", {})
    if "cpu_pct" in ki:
        full = (ki["kernel_sessions"] or 0) >= 0.98 * ki["wanted"]
        add(f"kernel relay: {ki['wanted']} idle kernel sessions, proxy "
            "idle CPU <= 1%", ki["cpu_pct"] <= 1 and full,
            f"{ki['cpu_pct']:.2f}% over {ki['seconds']} s with "
            f"{ki['sessions']} sessions held, {ki['kernel_sessions']} on the "
            f"kernel path, {ki['answered_after']} answered after")
    else:
        add("kernel relay: idle kernel sessions, proxy idle CPU <= 1%", None,
            "not measured")
    return t


def kernel_section(agg):
    """The kernel relay's own table (issue 10): rows pvx-splice, pvx and
    pvx-kr, slow reader and idle sessions."""
    names = [n for n in ("pvx-splice", "pvx", "pvx-kr") if n in agg]
    if "pvx-kr" not in agg:
        return []
    d0 = agg.get("direct", {})
    mib = 1 << 20
    lines = ["", "### Kernel relay (issue 10)", "",
             "| row | req/s keep-alive | proxy CPU us/req ka | bulk c->s "
             "Gbit/s | bulk s->c Gbit/s | slow reader: accepted not read "
             "MiB / TCP mem MiB / MemAvailable drop MiB / RSS KiB | idle "
             "sessions (kernel) | idle CPU % |",
             "|---|---|---|---|---|---|---|---|"]
    for n in names:
        d = agg[n]
        sl, idl = d.get("slow", {}), d.get("idle", {})
        slow = ("n/a" if "tcp_mem" not in sl else
                f"{sl['inflight'] / mib:.1f} / {sl['tcp_mem'] / mib:.1f} / "
                f"{sl['avail_drop'] / mib:.0f} / {sl['rss'] / 1024:.0f}")
        lines.append("| " + " | ".join([
            LABEL[n],
            f_ratio(d.get("rr_ka_rps"), d0.get("rr_ka_rps"), "{:.0f}"),
            f_num(d.get("rr_ka_cpu_us_per_req"), "{:.1f}"),
            f_ratio(d.get("bulk_fwd_gbps"), d0.get("bulk_fwd_gbps"), "{:.2f}"),
            f_ratio(d.get("bulk_rev_gbps"), d0.get("bulk_rev_gbps"), "{:.2f}"),
            slow,
            "n/a" if "sessions" not in idl else
            f"{idl['sessions']} ({idl['kernel_sessions'] if idl['kernel_sessions'] is not None else '-'})",
            f_num(idl.get("cpu_pct"), "{:.2f}")]) + " |")
    lines += ["", "Slow reader: a backend reading 400 KB/s while the client "
              "pushes up to 500 MB; peaks over the push of the bytes the "
              "client got accepted but the backend had not read, of the "
              "kernel's TCP memory (/proc/net/sockstat, kernel-wide), of the "
              "machine's MemAvailable drop and of the proxy's RSS growth."]
    return lines


def markdown(meta, cfg, agg, tg):
    d0 = agg.get("direct", {})
    counts = cfg.get("mem_counts", [])
    lines = [
        f"## pvx TCP ingress benchmark — {meta['date']}",
        "",
        f"{meta['cores']} cores ({meta['cpu']}), kernel {meta['kernel']}, "
        f"pvx {meta['pvx_commit']}; other processes on the machine used "
        f"{f_num(meta['others_cores_median'])} cores (median; max "
        f"{f_num(meta['others_cores_max'])}) during the kept samples "
        f"({meta['samples_retaken']} noisy samples taken again); "
        f"run took {meta['elapsed_s']} s; "
        f"{cfg['seconds']} s per run, median of {cfg['reps']} rounds, each "
        f"round measures direct then every proxy; wrk -t1 -c{cfg['wrk_conns']}"
        f" on a 600 B file; iperf3 one stream; one thread/worker per proxy.",
        "",
        "| row | bulk c->s Gbit/s | bulk s->c Gbit/s | CPU s/GB | "
        "req/s keep-alive | p50/p99 ms | req/s new conn | p50/p99 ms | "
        "proxy CPU us/req ka/new | RSS idle KiB | " + "".join(f"KiB/conn {n} | " for n in counts) +
        "fds/conn | reconcile ms |",
        "|---" * (12 + len(counts)) + "|",
    ]
    for name in ORDER:
        if name in cfg.get("na", {}):
            lines.append(f"| {LABEL[name]} | n/a: {cfg['na'][name]} |" +
                         " |" * (10 + len(counts)))
            continue
        d = agg.get(name)
        if d is None:
            continue
        fds = None
        for n in sorted(cfg.get("mem_counts", []), reverse=True):
            m = d.get(f"mem_{n}")
            if m and "fds_per_conn" in m:
                fds = m["fds_per_conn"]
                break
        rec = "; ".join(
            f"{via}: {r['add_ms_median']:.1f} (max {r['add_ms_max']:.1f})"
            if r["add_ms_median"] is not None else f"{via}: timeout"
            for via, r in d.get("reconcile", {}).items()) or "n/a"
        lines.append("| " + " | ".join([
            LABEL[name],
            f_ratio(d.get("bulk_fwd_gbps"), d0.get("bulk_fwd_gbps"), "{:.2f}"),
            f_ratio(d.get("bulk_rev_gbps"), d0.get("bulk_rev_gbps"), "{:.2f}"),
            f_num(d.get("cpu_s_per_gb"), "{:.3f}"),
            f_ratio(d.get("rr_ka_rps"), d0.get("rr_ka_rps"), "{:.0f}"),
            f"{f_num(d.get('rr_ka_p50_ms'))}/{f_num(d.get('rr_ka_p99_ms'))}",
            f_ratio(d.get("rr_close_rps"), d0.get("rr_close_rps"), "{:.0f}"),
            f"{f_num(d.get('rr_close_p50_ms'))}/"
            f"{f_num(d.get('rr_close_p99_ms'))}",
            f"{f_num(d.get('rr_ka_cpu_us_per_req'), '{:.1f}')}/"
            f"{f_num(d.get('rr_close_cpu_us_per_req'), '{:.1f}')}",
            f_num(d.get("rss_idle_kib"), "{:.0f}"),
            *[kib_conn(d, n) for n in counts],
            f_num(fds, "{:.2f}"), rec]) + " |")
    lines += ["", "Ratios in parentheses are to the direct row of the same "
              "run. KiB/conn is the growth of the proxy's PSS (RSS with "
              "shared pages divided among its processes) per held idle "
              "connection; kernel socket memory is not in it. CPU is the "
              "proxy's user+system time over the bulk runs per 10^9 bytes." +
              (f" RLIMIT_NOFILE here is {cfg['nofile']}: at most "
               f"{max(counts)} idle connections fit (2 fds each in a proxy)."
               if cfg.get("mem_cut") else ""),
              "", "### Targets (issue 5)", ""]
    for t in tg:
        mark = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
        lines.append(f"- {t['target']}: **{mark}** — {t['detail']}")
    ks = kernel_section(agg)
    if ks:
        lines += ks + ["", "#### Targets (issue 10)", ""]
        for t in targets_kernel(agg):
            mark = {True: "met", False: "MISSED", None: "n/a"}[t["met"]]
            lines.append(f"- {t['target']}: **{mark}** — {t['detail']}")
    sc = [(n, s) for n, d in agg.items() for s in d["samples"]
          if s["test"].startswith("syscalls_")]
    if sc:
        lines += ["", "### System calls (diagnostic, under strace)", "",
                  "| row | test | calls per unit | top calls per unit |",
                  "|---|---|---|---|"]
        for n, s in sc:
            top = ", ".join(f"{k} {v}" for k, v in s["per_unit"].items())
            lines.append(f"| {LABEL.get(n, n)} | {s['test'][9:]} | "
                         f"{s['per_unit_total']} per {s['unit']} | {top} |")
    errs = [(n, d["errors"]) for n, d in agg.items() if d.get("errors")]
    errs += [(n, f"{d[k]} socket errors/non-2xx in {k[:-7]}")
             for n, d in agg.items() for k in ("rr_ka_errors",
                                               "rr_close_errors")
             if d.get(k)]
    if errs:
        lines += ["", "### Errors seen", ""]
        for n, e in errs:
            lines.append(f"- {n}: {e}")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--config", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--pvx-bin")
    ap.add_argument("--src", default=os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))))
    ap.add_argument("--elapsed", type=int)
    ap.add_argument("--doc", help="a markdown file whose block between "
                    "<!-- bench:table --> and <!-- /bench:table --> gets "
                    "the new table")
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    raw = []
    with open(a.raw) as f:
        for line in f:
            if line.strip():
                raw.append(json.loads(line))
    meta = machine(a.src)
    meta["elapsed_s"] = a.elapsed
    oc = [r["others_cores"] for r in raw
          if "others_cores" in r and not r.get("discarded")]
    meta["samples_retaken"] = sum(1 for r in raw if r.get("discarded"))
    meta["others_cores_median"] = med(oc)
    meta["others_cores_max"] = max(oc) if oc else None
    agg = aggregate(raw, cfg)
    tg = targets(agg)
    md = markdown(meta, cfg, agg, tg)
    doc = {"meta": meta, "config": {k: v for k, v in cfg.items()
                                    if k not in ("rows",)},
           "rows": agg, "targets": tg,
           "targets_kernel_relay": targets_kernel(agg)}
    os.makedirs(a.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y%m%dT%H%M%SZ")
    for path in (os.path.join(a.out, "latest.json"),
                 os.path.join(a.out, "runs", f"{stamp}.json")):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path + ".tmp", "w") as f:
            json.dump(doc, f, indent=1)
        os.replace(path + ".tmp", path)
    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write(md)
    shutil.copy(os.path.join(a.out, "latest.md"),
                os.path.join(a.out, "runs", f"{stamp}.md"))
    if a.doc:
        update_doc(a.doc, md)
    print(md)


def update_doc(path, md):
    begin, end = "<!-- bench:table -->", "<!-- /bench:table -->"
    with open(path) as f:
        doc = f.read()
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise SystemExit(f"{path}: no {begin} ... {end} block")
    body = md.replace("\n## ", "\n### ", 1).replace("\n### Targets",
                                                   "\n#### Targets")
    body = body.replace("\n### System calls", "\n#### System calls")
    body = body.replace("\n### Errors seen", "\n#### Errors seen")
    body = body.replace("\n### Kernel relay", "\n#### Kernel relay")
    body = body.replace("\n#### Targets (issue 10)", "\n##### Targets (issue 10)")
    if body.startswith("## "):
        body = "#" + body
    doc = doc[:i + len(begin)] + "\n" + body + doc[j:]
    with open(path + ".tmp", "w") as f:
        f.write(doc)
    os.replace(path + ".tmp", path)


if __name__ == "__main__":
    main()
