"""The data-size table of `make bench`: the same list and search requests
(bench/lists.py) on stacks seeded with 1k, 10k and 100k properties and as
many listings, one client at a time, and how fast `roostctl seed` made them.

Each size gets a fresh stack (embedded database, one pool of 2 workers per
service, ingress) in a temporary directory, started and stopped by pid
through tests/integration/roost_stack.py.

    .venv/bin/python bench/sizes.py [SIZE ...]      (default: 1000 10000 100000)
Environment: ROOST_BUILD_DIR (default build/), BENCH_REPEATS (default 21).
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)

import lists  # noqa: E402
from roost_stack import running  # noqa: E402

SERVICES = ["users", "properties", "listings", "places", "bookings"]


def one_size(n, repeats):
    with running(workers=2, pools=[[s] for s in SERVICES]) as s:
        rates = {}
        for kind, flags in [("users", ["--users", "200", "--properties", "0", "--listings", "0"]),
                            ("properties + listings", ["--users", "200", "--properties", str(n), "--listings", str(n)])]:
            started = time.monotonic()
            r = s.roostctl("seed", "--seed", "1", "--places", "16", *flags, "--quiet", timeout=3600)
            if r.returncode != 0:
                raise SystemExit(f"seeding {n} failed: {r.stderr}")
            made = 200 if kind == "users" else 2 * n
            rates[kind] = made / (time.monotonic() - started)
        return lists.measure(s.base, repeats), rates, lists.concurrent_mix(s.base)


def main():
    sizes = [int(a) for a in sys.argv[1:]] or [1000, 10000, 100000]
    repeats = int(os.environ.get("BENCH_REPEATS", "21"))
    results = {}
    for n in sizes:
        print(f"[bench] seeding and measuring {n} properties and {n} listings", file=sys.stderr)
        results[n] = one_size(n, repeats)
    names = list(next(iter(results.values()))[0])
    head = " | ".join(f"{n // 1000}k p50 | {n // 1000}k p99" for n in sizes)
    print(f"| request (ms, one client at a time) | {head} |")
    print("| --- |" + " ---: |" * (2 * len(sizes)))
    for name in names:
        cells = " | ".join(f"{results[n][0][name][0] * 1000:.1f} | {results[n][0][name][1] * 1000:.1f}" for n in sizes)
        print(f"| {name} | {cells} |")
    print()
    for n in sizes:
        p50, p99, count, bad = results[n][2]
        print(f"{n // 1000}k, the map and search requests from 32 clients at once for 10 s: {count} requests, "
              f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, not 200: {bad or 'none'}.")
    for n in sizes:
        rates = results[n][1]
        print(f"Seeding {n} properties + {n} listings: {rates['properties + listings']:.0f} documents/s "
              f"(users, whose passwords are hashed with Argon2id: {rates['users']:.0f}/s).")
    print(f"{os.cpu_count()} cores; {repeats} requests per row after one warm-up (with fewer than 100, p99 is the "
          f"slowest); embedded database: roost-embedded-db.")


if __name__ == "__main__":
    main()
