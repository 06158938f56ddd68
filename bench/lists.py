"""Latency of every list and search endpoint of a running Roost, one client
at a time: first and deep pages, each documented filter, each order_by,
/api/v1/cities, the map searches and facets of docs/search.md (around one
located property of the biggest city), the classic /listings and
/public-api/listings, and places with embed=people.

Used by bench/run.sh (the data-size table, at 1k, 10k and 100k documents)
and by tests/integration/test_scale.py (the bounds, at 10k). Needs only the
standard library.

    python3 bench/lists.py BASE_URL [REPEATS]     prints one line per request
"""
import json
import statistics
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def get(base, path, headers=None):
    req = urllib.request.Request(base + path, headers=headers or {})
    started = time.perf_counter()
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
        status = r.status
    return status, body, time.perf_counter() - started


def total_of(base, path):
    _, body, _ = get(base, path)
    return json.loads(body)["total"]


def requests_for(base):
    """The requests to time, named; deep pages land in the middle of the data."""
    props = total_of(base, "/api/v1/properties?per_page=1")
    listings = total_of(base, "/api/v1/listings?per_page=1")
    users = total_of(base, "/api/v1/users?per_page=1")
    deep_props, deep_listings, deep_users = max(1, props // 40), max(1, listings // 40), max(1, users // 20)
    _, body, _ = get(base, "/api/v1/cities")
    city = json.loads(body)["items"][0]["city"] if json.loads(body)["items"] else "Paris"
    _, body, _ = get(base, "/api/v1/users?per_page=1&order_by=-id")
    some_user = json.loads(body)["items"][0] if users else {"id": 1, "username": "x"}
    q = urllib.parse.quote
    # A point of that city (the first located property's), for the map searches.
    _, body, _ = get(base, f"/api/v1/properties?per_page=50&city={q(city)}")
    located = [p["location"] for p in json.loads(body)["items"] if p.get("location")]
    lat, lon = (located[0]["lat"], located[0]["lon"]) if located else (48.8566, 2.3522)
    near = f"near={lat:.5f},{lon:.5f}"
    box = f"bbox={lon - 0.06:.5f},{lat - 0.04:.5f},{lon + 0.06:.5f},{lat + 0.04:.5f}"
    reqs = [
        ("properties, first page", "/api/v1/properties?per_page=20"),
        ("properties, deep page", f"/api/v1/properties?per_page=20&page={deep_props}"),
        ("properties?city=", f"/api/v1/properties?per_page=20&city={q(city.upper())}"),
        ("properties?type=", "/api/v1/properties?per_page=20&type=villa"),
        ("properties?owner_id=", f"/api/v1/properties?per_page=20&owner_id={some_user['id']}"),
        ("properties?min_rooms=&max_rooms=", "/api/v1/properties?per_page=20&min_rooms=3&max_rooms=4"),
    ]
    for order in ["id", "-name", "city", "-created_at", "updated_at", "-room_count"]:
        reqs.append((f"properties?order_by={order}", f"/api/v1/properties?per_page=20&order_by={order}&page=3"))
    reqs += [
        ("properties?type=&order_by=name", "/api/v1/properties?per_page=20&type=house&order_by=name"),
        ("cities", "/api/v1/cities"),
        ("listings, first page", "/api/v1/listings?per_page=20"),
        ("listings, deep page", f"/api/v1/listings?per_page=20&page={deep_listings}"),
        ("listings?user_id=", f"/api/v1/listings?per_page=20&user_id={some_user['id']}"),
        ("listings?listing_type=", "/api/v1/listings?per_page=20&listing_type=rent"),
        ("listings?min_price=&max_price=", "/api/v1/listings?per_page=20&min_price=1000&max_price=2000"),
        ("listings?city=", f"/api/v1/listings?per_page=20&city={q(city)}"),
        ("listings, 2 km around a point", f"/api/v1/listings?per_page=20&{near}&radius_m=2000"),
        ("listings, 2 km around a point, page 50", f"/api/v1/listings?per_page=20&{near}&radius_m=2000&page=50"),
        ("listings, a city-sized bbox", f"/api/v1/listings?per_page=20&{box}"),
        ("listings, a city-sized bbox, page 50", f"/api/v1/listings?per_page=20&{box}&page=50"),
        ("listings by distance, first page", f"/api/v1/listings?per_page=20&{near}&radius_m=5000&order_by=distance"),
        ("listings by distance, page 50",
         f"/api/v1/listings?per_page=20&{near}&radius_m=5000&order_by=distance&page=50"),
        ("listings?min_bedrooms=2&max_price=&city=",
         f"/api/v1/listings?per_page=20&min_bedrooms=2&max_price=150000&city={q(city)}"),
        ("the same, page 50", f"/api/v1/listings?per_page=20&min_bedrooms=2&max_price=150000&city={q(city)}&page=50"),
        ("listings/facets, two filters", f"/api/v1/listings/facets?city={q(city)}&min_bedrooms=2"),
        # Two words of the seeded descriptions (tools/roostctl/seed_text.c), one as people type it.
        ("listings?q=, two words", f"/api/v1/listings?per_page=20&q={q('Terrasse vue')}"),
        ("listings?q=, two words, page 50", f"/api/v1/listings?per_page=20&q={q('Terrasse vue')}&page=50"),
        ("properties?q=, two words", f"/api/v1/properties?per_page=20&q={q('piscina comunitaria')}"),
        ("properties, 2 km around a point", f"/api/v1/properties?per_page=20&{near}&radius_m=2000"),
        ("users, first page", "/api/v1/users?per_page=20"),
        ("users, deep page", f"/api/v1/users?per_page=20&page={deep_users}"),
        ("users?username=", "/api/v1/users?per_page=20&username=silva"),
        ("users?id=", "/api/v1/users?id=" + ",".join(str(i) for i in range(1, 40, 3))),
    ]
    for order in ["-username", "created_at", "last_name"]:
        reqs.append((f"users?order_by={order}", f"/api/v1/users?per_page=20&order_by={order}&page=2"))
    reqs += [
        ("classic /listings", "/listings?page_size=20"),
        ("classic /listings, deep page", f"/listings?page_size=20&page_num={deep_listings}"),
        ("classic /listings?user_id=", f"/listings?page_size=20&user_id={some_user['id']}"),
        ("classic /users", "/users?page_size=20"),
        ("/public-api/listings", "/public-api/listings?page_size=20"),
        ("/public-api/listings, deep page", f"/public-api/listings?page_size=20&page_num={deep_listings}"),
        ("places", "/api/v1/places?per_page=20"),
        ("places?embed=people", "/api/v1/places?per_page=20&embed=people"),
    ]
    return reqs


def measure(base, repeats=11):
    """{name: (p50 seconds, p99 seconds, path)} for every request, each sent
    `repeats` times after one unmeasured warm-up, one at a time."""
    out = {}
    for name, path in requests_for(base):
        get(base, path)
        times = []
        for _ in range(repeats):
            status, body, t = get(base, path)
            if status != 200:
                raise AssertionError(f"{path} answered {status}: {body[:200]!r}")
            times.append(t)
        times.sort()
        p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
        out[name] = (statistics.median(times), p99, path)
    return out


SEARCH_MIX = ("2 km around a point", "city-sized bbox", "by distance", "min_bedrooms", "the same, page 50",
              "facets", "page 50", "two words")


def concurrent_mix(base, clients=32, seconds=10.0):
    """The search requests of docs/search.md (SEARCH_MIX), sent by `clients`
    threads at once for `seconds`: (p50, p99, requests, {status: count} of
    the answers that were not 200)."""
    import concurrent.futures
    paths = [p for name, p in requests_for(base) if any(k in name for k in SEARCH_MIX)]
    deadline = time.monotonic() + seconds

    def client(i):
        times, bad, k = [], {}, i
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _, t = get(base, paths[k % len(paths)])
            except urllib.error.HTTPError as e:
                status, t = e.code, time.perf_counter() - started
            k += 1
            times.append(t)
            if status != 200:
                bad[status] = bad.get(status, 0) + 1
        return times, bad

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        results = list(pool.map(client, range(clients)))
    times = sorted(t for ts, _ in results for t in ts)
    p99 = times[min(len(times) - 1, int(round(0.99 * (len(times) - 1))))]
    bad = {}
    for _, b in results:
        for status, n in b.items():
            bad[status] = bad.get(status, 0) + n
    return statistics.median(times), p99, len(times), bad


if __name__ == "__main__":
    base = sys.argv[1].rstrip("/")
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 11
    for name, (p50, p99, path) in measure(base, repeats).items():
        print(f"{name}\t{p50 * 1000:.1f}\t{p99 * 1000:.1f}\t{path}")
