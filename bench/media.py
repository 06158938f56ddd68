#!/usr/bin/env python3
"""Photos (`make bench`; issue 24's targets), on a stack of its own
(embedded database, 2 workers, the ingress):

  uploads      BENCH_UPLOADS (20) uploads at once of a BENCH_UPLOAD_MIB (10)
               MiB JPEG, each to its own property: every status, the wall
               time, the ingress's RSS growth (VmRSS, sampled every 20 ms,
               peak less before) and, meanwhile, the p50/p99 of GET
               /api/v1/properties/{id} sent one after another by another client
  download     a BENCH_DOWNLOAD_MIB (2) MiB photo over BENCH_CONNECTIONS (32)
               connections with wrk: MB/s, req/s, and CPU µs per request of
               the ingress and of the workers (0 at the workers: the cache)
  w=320        the same for its 320 px copy once it was made once

Markdown on stdout, progress on stderr. Every process it starts it stops.

    bench/media.py [BUILD_DIR]
"""
import io
import os
import re
import statistics
import subprocess
import sys
import threading
import time

import requests
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("ROOST_BUILD_DIR",
                                                                             os.path.join(ROOT, "build")))
os.environ["ROOST_BUILD_DIR"] = BUILD
for _name in [k for k in os.environ if k.startswith("ROOST_POOL_URL") or k in ("ROOST_MONGODB_URI", "ROOST_WORKER_URL")]:
    del os.environ[_name]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from roost_stack import Stack  # noqa: E402
from tls import cpu_ticks  # noqa: E402  (bench/tls.py: utime + stime of pids)

UPLOADS = int(os.environ.get("BENCH_UPLOADS", "20"))
UPLOAD_MIB = float(os.environ.get("BENCH_UPLOAD_MIB", "10"))
DOWNLOAD_MIB = float(os.environ.get("BENCH_DOWNLOAD_MIB", "2"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))


def say(*a):
    print("[bench media]", *a, file=sys.stderr, flush=True)


def noisy_jpeg(mib, seed):
    """A JPEG of about `mib` MiB: random pixels compress badly."""
    target = int(mib * (1 << 20))
    side = int((target / 1.3) ** 0.5)
    rnd = __import__("random").Random(seed)
    img = Image.frombytes("RGB", (side, side), rnd.randbytes(side * side * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=92)
    return out.getvalue()


def rss_kib(pid):
    """(VmRSS, RssAnon, RssFile + RssShmem) in KiB."""
    with open(f"/proc/{pid}/status") as f:
        text = f.read()
    get = lambda name: int(re.search(name + r":\s+(\d+)", text).group(1))  # noqa: E731
    return get("VmRSS"), get("RssAnon"), get("RssFile") + get("RssShmem")


def wrk(url, headers=()):
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    for h in headers:
        args += ["-H", h]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=SECONDS + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    scale = {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, float(p99.group(1)) * scale, int(errors.group(1)) if errors else 0


def main():
    s = Stack(workers=2)
    s.start()
    try:
        auth = {}
        r = requests.post(s.url("/api/v1/users"), json={"username": "bench", "password": "correct horse battery",
                                                         "first_name": "B", "last_name": "M",
                                                         "birth_date": "1990-01-01"}, timeout=10)
        assert r.status_code == 201, r.text
        token = requests.post(s.url("/api/v1/auth/token"), json={"username": "bench",
                                                                 "password": "correct horse battery"},
                              timeout=10).json()["access_token"]
        auth = {"Authorization": "Bearer " + token}
        props = []
        for i in range(UPLOADS + 1):
            r = requests.post(s.url("/api/v1/properties"), headers=auth, timeout=10,
                              json={"name": f"P{i}", "type": "house", "city": "Lyon", "address": "1 rue"})
            props.append(r.json()["id"])
        say(f"making {UPLOADS} JPEGs of {UPLOAD_MIB} MiB")
        pictures = [noisy_jpeg(UPLOAD_MIB, i) for i in range(UPLOADS)]
        ingress = s.procs["ingress"].pid
        workers = s.worker_pids()
        rss_before = rss_kib(ingress)
        peak = list(rss_before)
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                now = rss_kib(ingress)
                for k in range(3):
                    peak[k] = max(peak[k], now[k])
                time.sleep(0.02)

        latencies = []

        def other():
            with requests.Session() as session:
                while not stop.is_set():
                    t = time.perf_counter()
                    assert session.get(s.url(f"/api/v1/properties/{props[-1]}"), timeout=30).status_code == 200
                    latencies.append((time.perf_counter() - t) * 1000)
                    time.sleep(0.01)

        statuses = [None] * UPLOADS

        def up(i):
            statuses[i] = requests.post(s.url(f"/api/v1/properties/{props[i]}/media"), data=pictures[i],
                                        headers={**auth, "Content-Type": "image/jpeg"}, timeout=300).status_code

        helpers = [threading.Thread(target=sample), threading.Thread(target=other)]
        for t in helpers:
            t.start()
        time.sleep(0.5)
        say(f"{UPLOADS} uploads at once")
        t0 = time.perf_counter()
        threads = [threading.Thread(target=up, args=(i,)) for i in range(UPLOADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        stop.set()
        for t in helpers:
            t.join()
        ok = sum(1 for st in statuses if st == 201)
        lat = sorted(latencies)
        p50 = statistics.median(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]

        say(f"a {DOWNLOAD_MIB} MiB photo over {CONNECTIONS} connections")
        big = noisy_jpeg(DOWNLOAD_MIB * 1.8, 99)  # what is kept is re-encoded, about half the size
        m = requests.post(s.url(f"/api/v1/properties/{props[-1]}/media"), data=big,
                          headers={**auth, "Content-Type": "image/jpeg"}, timeout=60).json()
        url = s.url(m["url"])
        size = len(requests.get(url, timeout=30).content)
        rows = []
        for name, target, headers in (("download", url, ()), ("w=320", url + "?w=320", ())):
            first = requests.get(target, timeout=60)
            assert first.status_code == 200
            c0, w0 = cpu_ticks([ingress]), cpu_ticks(workers)
            rps, p99_ms, errors = wrk(target, headers)
            c1, w1 = cpu_ticks([ingress]), cpu_ticks(workers)
            n = rps * SECONDS
            tick_us = 1e6 / os.sysconf("SC_CLK_TCK")
            rows.append((name, len(first.content), rps, rps * len(first.content) / 1e6, p99_ms, errors,
                         (c1 - c0) * tick_us / n, (w1 - w0) * tick_us / n))
        grow = [(peak[k] - rss_before[k]) / 1024 for k in range(3)]
        print("| uploads at once | size | all 201 | wall | ingress RSS growth: all (anonymous, file-backed) | "
              "other GETs meanwhile p50 / p99 |")
        print("| --- | --- | --- | --- | --- | --- |")
        print(f"| {UPLOADS} | {UPLOAD_MIB:g} MiB | {ok}/{UPLOADS} | {wall:.1f} s | "
              f"{grow[0]:.0f} MiB ({grow[1]:.0f}, {grow[2]:.0f}) | {p50:.1f} / {p99:.1f} ms ({len(lat)} requests) |")
        print()
        print(f"| read ({CONNECTIONS} connections, {SECONDS} s) | bytes | req/s | MB/s | p99 | non-2xx | "
              "ingress CPU µs/req | workers CPU µs/req |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for name, nbytes, rps, mbs, p99_ms, errors, ingress_us, workers_us in rows:
            print(f"| {name} | {nbytes} | {rps:.0f} | {mbs:.0f} | {p99_ms:.1f} ms | {errors} | {ingress_us:.0f} | "
                  f"{workers_us:.0f} |")
        del size
    finally:
        s.stop()


if __name__ == "__main__":
    main()
