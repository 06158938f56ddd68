#!/usr/bin/env python3
"""The spine's cost with mutual TLS (bench/run.sh; BENCH_TLS=none skips it):
the same GET /ping (ingress -> worker -> back over the direct path, no
database) on two fresh stacks taken in one run, one with tcp:// and one with
tls+tcp:// between every party (the ingress and the workers: OpenSSL; the
brokers, idle here: nng's), each for BENCH_TLS_SECONDS (10) with
wrk. Reports requests/s and the CPU the Roost processes spent per request
(from /proc/<pid>/stat), and the TLS/TCP ratios. Prints a Markdown table."""
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from roost_stack import Stack, make_pki, pki_env  # noqa: E402

SECONDS = int(os.environ.get("BENCH_TLS_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_TLS_CONNECTIONS", "32"))
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime + stime
        except OSError:
            pass
    return total


def roost_pids(stack):
    pids = [p.pid for name, p in stack.procs.items() if name != "db"]
    for name in stack.procs:
        if name.startswith("pool"):
            pids += stack.worker_pids(name)
    return pids


def run(tls, pki):
    stack = Stack(workers=2, env=pki_env(pki) if tls else None, tls=tls)
    try:
        stack.start()
        url = stack.url("/ping")
        subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", "-d2s", url], capture_output=True, check=True)
        pids = roost_pids(stack)
        before = cpu_ticks(pids)
        out = subprocess.run(["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", url], capture_output=True,
                             text=True, check=True).stdout
        ticks = cpu_ticks(pids) - before
        requests_done = int(re.search(r"(\d+) requests in", out).group(1))
        errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        return {"rps": rps, "cpu_us": ticks / HZ * 1e6 / max(1, requests_done),
                "errors": int(errors.group(1)) if errors else 0}
    finally:
        stack.stop()


def main():
    with tempfile.TemporaryDirectory(prefix="roost-bench-pki-") as d:
        pki = make_pki(d)
        plain = run(False, pki)
        tls = run(True, pki)
    print(f"| GET /ping, {CONNECTIONS} connections, {SECONDS} s, {os.cpu_count()} cores | requests/s |"
          " CPU of Roost's processes per request | non-2xx |")
    print("| --- | ---: | ---: | ---: |")
    for name, r in (("direct path over tcp://", plain), ("direct path over tls+tcp:// (mutual TLS)", tls)):
        print(f"| {name} | {r['rps']:.0f} | {r['cpu_us']:.0f} µs | {r['errors']} |")
    print(f"| TLS / TCP | {tls['rps'] / plain['rps']:.2f}× | {tls['cpu_us'] / plain['cpu_us']:.2f}× | |")
    return 0 if plain["errors"] == 0 and tls["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
