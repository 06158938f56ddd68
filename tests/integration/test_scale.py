"""Scale with data: at 10,000 properties and 10,000 listings on the
embedded database, every list and search endpoint answers within the
targets of docs/embedded-db.md (p50 50 ms, p99 200 ms, one client at a
time), every query behind them walks an index (the database's profiler
says so, as MongoDB's does), and 32 concurrent clients get no 5xx.

The data is made by `roostctl seed`, as a user would make it; that also
checks that seeding is fast. `make bench` measures the same requests at
1k, 10k and 100k documents."""
import concurrent.futures
import os
import sys
import time

import pytest
import requests

from roost_stack import ROOT, SANITIZED, running

sys.path.insert(0, os.path.join(ROOT, "bench"))
import lists  # noqa: E402  (bench/lists.py: the requests and how they are timed)

SERVICES = ["users", "properties", "listings", "places", "bookings"]
PROPERTIES = LISTINGS = 10000
# The targets, for the optimised build. The sanitized build runs the same
# requests 3-5 times slower; its bounds only catch a return to scanning.
SLACK = 5 if SANITIZED else 1


@pytest.fixture(scope="module")
def big():
    with running(workers=2, pools=[[s] for s in SERVICES]) as s:
        started = time.monotonic()
        r = s.roostctl("seed", "--seed", "3", "--places", "16", "--users", "40", "--properties", str(PROPERTIES),
                       "--listings", str(LISTINGS), "--quiet", timeout=900)
        assert r.returncode == 0, r.stderr
        s.seed_seconds = time.monotonic() - started
        yield s


def test_seeding_makes_the_documents_fast(big):
    made = PROPERTIES + LISTINGS
    rate = made / big.seed_seconds
    # make bench reports the real rate (README); this floor catches a creation
    # path that grows with the collection. The idle rate on a 2-core machine
    # is about 260/s since properties and listings keep their words under a
    # text index (400/s before); the floor is under half of it, so that a
    # machine whose other core is busy passes it too.
    assert rate >= 120 / SLACK, f"{made} documents in {big.seed_seconds:.1f} s: {rate:.0f}/s"
    totals = [requests.get(big.url(p), timeout=10).json()["total"]
              for p in ("/api/v1/properties?per_page=1", "/api/v1/listings?per_page=1")]
    assert totals == [PROPERTIES, LISTINGS]


def test_every_list_answers_in_milliseconds(big):
    slow = []
    for name, (p50, p99, path) in lists.measure(big.base, repeats=21).items():
        if p50 > 0.050 * SLACK or p99 > 0.200 * SLACK:
            slow.append(f"{name}: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms ({path})")
    assert not slow, "\n".join(slow)


def test_every_list_query_walks_an_index(big):
    db = big.mongo()
    try:
        for s in SERVICES:
            db[big.prefix + s].command("profile", 2)
        for _, path in lists.requests_for(big.base):
            assert requests.get(big.url(path), timeout=30).status_code == 200, path
        scans, planned = [], 0
        for s in SERVICES:
            db[big.prefix + s].command("profile", 0)
            for e in db[big.prefix + s]["system.profile"].find({"planSummary": {"$exists": True}}):
                planned += 1
                if "COLLSCAN" in e["planSummary"]:
                    scans.append((e["ns"], e["command"]))
        # Each request reads at least once: an empty profile would prove nothing.
        assert planned >= len(lists.requests_for(big.base)), planned
        assert not scans, scans
    finally:
        db.close()


def test_thirty_two_concurrent_clients_get_no_5xx(big):
    paths = [p for _, p in lists.requests_for(big.base)]

    def client(i):
        statuses = []
        with requests.Session() as s:
            for k in range(6):
                statuses.append(s.get(big.url(paths[(i + k) % len(paths)]), timeout=30).status_code)
        return statuses

    with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
        statuses = [st for sts in pool.map(client, range(32)) for st in sts]
    assert statuses.count(200) == len(statuses), sorted(set(statuses))
