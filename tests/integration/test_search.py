"""Search like a portal (docs/search.md): a property's location and room
counts, the snapshot each listing keeps of its property, and the search
parameters of GET /api/v1/listings and /api/v1/properties — the map
(near/radius_m, bbox, polygon, order_by=distance) and the home's own fields
— compared with a brute force over the data created here, over HTTP and
over nng; every bad parameter is a 400 naming it. A real stack: embedded
database, pool, ingress."""
import math
import random
import time

import pytest
import requests

from roost_api import assert_problem, call, every_page, get_query, person, send, unique
from roost_stack import running, wait_until

R = 6378100.0  # MongoDB's sphere, in metres
TYPES = ["apartment", "house", "studio", "villa"]


def haversine(a, b):
    (lat1, lon1), (lat2, lon2) = a, b
    p1, p2 = math.radians(lat1), math.radians(lat2)
    h = (math.sin((p2 - p1) / 2) ** 2 +
         math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2)
    return 2 * math.asin(math.sqrt(min(1, h))) * R


def unit(lat, lon):
    la, lo = math.radians(lat), math.radians(lon)
    return (math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la))


def inside_ring(ring, lat, lon):
    """Spherical point in polygon by the angles the edges subtend (ring: [(lon, lat)], closed, small)."""
    p = unit(lat, lon)
    cross = lambda a, b: (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])
    dot = lambda a, b: sum(x * y for x, y in zip(a, b))
    if dot(p, unit(ring[0][1], ring[0][0])) <= 0:
        return False
    total = 0.0
    for (lo1, la1), (lo2, la2) in zip(ring, ring[1:]):
        ta, tb = cross(p, unit(la1, lo1)), cross(p, unit(la2, lo2))
        total += math.atan2(dot(cross(ta, tb), p), dot(ta, tb))
    return abs(total) > math.pi


def offset(centre, north_m, east_m):
    lat, lon = centre
    lat2 = lat + math.degrees(north_m / R)
    lon2 = lon + math.degrees(east_m / (R * math.cos(math.radians(lat))))
    lon2 = (lon2 + 180) % 360 - 180
    return (lat2, lon2)


def get(stack, path, **params):
    return get_query(stack, path, **params)


def all_ids(stack, path, **params):
    params.setdefault("per_page", 7)
    return [i["id"] for i in every_page(stack, path, **params)]


@pytest.fixture(scope="module")
def homes(stack):
    """Two clusters of homes with listings: one across the antimeridian, one
    near Cape Town; random rooms, types and prices; one owner."""
    rng = random.Random(23)
    owner = person(stack)
    city = {"east": unique("Anti"), "cape": unique("Cape")}
    centres = {"east": (-16.5, 179.98), "cape": (-33.92, 18.42)}
    homes = []
    for i in range(48):
        cluster = "east" if i % 2 == 0 else "cape"
        lat, lon = offset(centres[cluster], rng.uniform(-6000, 6000), rng.uniform(-6000, 6000))
        kinds = ["bedroom"] * rng.randint(0, 4) + ["bathroom"] * rng.randint(0, 2) + ["kitchen"]
        rooms = [{"name": f"R{j}", "kind": k, "area_m2": rng.randint(5, 40)} for j, k in enumerate(kinds)]
        body = {"name": f"Home {i}", "description": "", "type": TYPES[i % 4], "city": city[cluster],
                "address": f"{i} Search Street", "rooms": rooms, "location": {"lat": lat, "lon": lon}}
        r = send(stack, "POST", "/api/v1/properties", body, token=owner["token"])
        assert r.status_code == 201, r.text
        prop = r.json()
        assert prop["location"] == {"lat": lat, "lon": lon}
        assert prop["bedrooms"] == kinds.count("bedroom") and prop["bathrooms"] == kinds.count("bathroom")
        r = send(stack, "POST", "/api/v1/listings", {"property_id": prop["id"], "price": rng.randint(500, 5000),
                                                     "listing_type": rng.choice(["rent", "sale"])},
                 token=owner["token"])
        assert r.status_code == 201, r.text
        listing = r.json()
        assert listing["property"]["bedrooms"] == prop["bedrooms"], listing
        assert listing["property"]["location"] == {"lat": lat, "lon": lon}
        homes.append({"prop": prop, "listing": listing, "lat": lat, "lon": lon, "cluster": cluster})
    return {"owner": owner, "homes": homes, "city": city, "centres": centres}


def test_a_location_is_checked_and_kept(stack):
    owner = person(stack)
    base = {"name": "Loc", "type": "house", "city": "Lyon", "address": "1 Rue"}
    for bad, field in [({"lat": 91, "lon": 0}, "location.lat"), ({"lat": 0, "lon": -180.5}, "location.lon"),
                       ({"lat": 10}, "location.lon"), ({"lon": 10}, "location.lat"),
                       ({"lat": "1", "lon": 2}, "location.lat"), ({"lat": 1, "lon": 2, "alt": 3}, "location"),
                       ([1, 2], "location"), ("48.8,2.3", "location")]:
        r = send(stack, "POST", "/api/v1/properties", dict(base, location=bad), token=owner["token"])
        assert_problem(r, 400, field=field)
    r = send(stack, "POST", "/api/v1/properties", dict(base, location=None), token=owner["token"])
    assert r.status_code == 201 and r.json()["location"] is None, r.text
    pid = r.json()["id"]
    r = send(stack, "PATCH", f"/api/v1/properties/{pid}", {"location": {"lat": -90, "lon": 180}}, token=owner["token"])
    assert r.status_code == 200 and r.json()["location"] == {"lat": -90, "lon": 180}, r.text
    r = send(stack, "PATCH", f"/api/v1/properties/{pid}", {"location": {"lat": 100, "lon": 0}}, token=owner["token"])
    assert_problem(r, 400, field="location.lat")
    assert send(stack, "GET", f"/api/v1/properties/{pid}").json()["location"] == {"lat": -90, "lon": 180}
    r = send(stack, "PATCH", f"/api/v1/properties/{pid}", {"location": None}, token=owner["token"])
    assert r.status_code == 200 and r.json()["location"] is None, r.text


def test_room_counts_follow_every_rooms_write(stack):
    owner = person(stack)
    r = send(stack, "POST", "/api/v1/properties",
             {"name": "Rooms", "type": "house", "city": "Oslo", "address": "2 Gate",
              "rooms": [{"name": "a", "kind": "bedroom", "area_m2": 10}, {"name": "b", "kind": "bathroom", "area_m2": 4}]},
             token=owner["token"])
    assert r.status_code == 201 and (r.json()["bedrooms"], r.json()["bathrooms"]) == (1, 1), r.text
    pid = r.json()["id"]
    r = send(stack, "POST", f"/api/v1/properties/{pid}/rooms", {"name": "c", "kind": "bedroom", "area_m2": 9},
             token=owner["token"])
    assert r.status_code == 201 and r.json()["bedrooms"] == 2, r.text
    room = r.json()["rooms"][0]["id"]
    r = send(stack, "PATCH", f"/api/v1/properties/{pid}/rooms/{room}", {"kind": "office"}, token=owner["token"])
    assert r.status_code == 200 and (r.json()["bedrooms"], r.json()["bathrooms"]) == (1, 1), r.text
    r = send(stack, "POST", "/api/v1/listings", {"property_id": pid, "price": 900, "listing_type": "rent"},
             token=owner["token"])
    lid = r.json()["id"]
    assert r.json()["property"]["bedrooms"] == 1
    r = send(stack, "DELETE", f"/api/v1/properties/{pid}/rooms/{room}", token=owner["token"])
    assert r.status_code == 200 and r.json()["bedrooms"] == 1 and r.json()["room_count"] == 2, r.text


def test_the_snapshot_follows_the_property_within_two_seconds(stack):
    owner = person(stack)
    r = send(stack, "POST", "/api/v1/properties", {"name": "Snap", "type": "villa", "city": unique("Old"),
                                                   "address": "3 Way"}, token=owner["token"])
    pid = r.json()["id"]
    lid = send(stack, "POST", "/api/v1/listings", {"property_id": pid, "price": 1200, "listing_type": "sale"},
               token=owner["token"]).json()["id"]
    new_city = unique("Néw")
    r = send(stack, "PATCH", f"/api/v1/properties/{pid}", {"city": new_city, "type": "cabin",
                                                          "location": {"lat": 1.5, "lon": 2.5}}, token=owner["token"])
    assert r.status_code == 200, r.text
    started = time.monotonic()
    while True:
        found = ids_of(get(stack, "/api/v1/listings", city=new_city.upper(), type="cabin"))
        if found == [lid] or time.monotonic() - started > 2:
            break
        time.sleep(0.05)
    assert found == [lid], "the listing search did not reflect the property's change within 2 s"
    snap = send(stack, "GET", f"/api/v1/listings/{lid}").json()["property"]
    assert snap["city"] == new_city and snap["type"] == "cabin" and snap["location"] == {"lat": 1.5, "lon": 2.5}
    # Moving the listing to no property takes its snapshot away; a deleted property's listings have none.
    r = send(stack, "PATCH", f"/api/v1/listings/{lid}", {"property_id": None}, token=owner["token"])
    assert r.status_code == 200 and "property" not in r.json(), r.text
    r = send(stack, "PATCH", f"/api/v1/listings/{lid}", {"property_id": pid}, token=owner["token"])
    assert r.json()["property"]["city"] == new_city, r.text
    assert send(stack, "DELETE", f"/api/v1/properties/{pid}", token=owner["token"]).status_code == 204
    assert "property" not in send(stack, "GET", f"/api/v1/listings/{lid}").json()
    assert ids_of(get(stack, "/api/v1/listings", city=new_city)) == []


def ids_of(r):
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]]


def test_listing_filters_on_the_home_equal_brute_force(stack, homes):
    owner, hs = homes["owner"], homes["homes"]
    cases = [
        ({"min_bedrooms": 2}, lambda h: h["prop"]["bedrooms"] >= 2),
        ({"max_bedrooms": 1, "min_bathrooms": 1}, lambda h: h["prop"]["bedrooms"] <= 1 and h["prop"]["bathrooms"] >= 1),
        ({"min_area_m2": 40.5, "max_area_m2": 90}, lambda h: 40.5 <= h["prop"]["living_area_m2"] <= 90),
        ({"type": "house,villa"}, lambda h: h["prop"]["type"] in ("house", "villa")),
        ({"city": homes["city"]["cape"].lower(), "min_bedrooms": 2, "max_price": 3000},
         lambda h: h["cluster"] == "cape" and h["prop"]["bedrooms"] >= 2 and h["listing"]["price"] <= 3000),
        ({"listing_type": "rent", "type": "studio"},
         lambda h: h["listing"]["listing_type"] == "rent" and h["prop"]["type"] == "studio"),
    ]
    for params, pred in cases:
        got = all_ids(stack, "/api/v1/listings", user_id=owner["id"], **params)
        want = [h["listing"]["id"] for h in sorted(hs, key=lambda h: -h["listing"]["id"]) if pred(h)]
        assert got == want, params  # newest first
    # A repeated type is the same as a comma list.
    r = requests.get(stack.url(f"/api/v1/listings?user_id={owner['id']}&type=house&type=villa&per_page=100"), timeout=15)
    assert sorted(ids_of(r)) == sorted(all_ids(stack, "/api/v1/listings", user_id=owner["id"], type="house,villa"))


def near_cases(homes):
    east, cape = homes["centres"]["east"], homes["centres"]["cape"]
    return [(east, 3000), (cape, 4500), (offset(east, 0, 4000), 2000), (cape, 100000)]


@pytest.mark.parametrize("path", ["/api/v1/listings", "/api/v1/properties"])
def test_near_and_distance_order_equal_brute_force(stack, homes, path):
    owner, hs = homes["owner"], homes["homes"]
    key = "listing" if path.endswith("listings") else "prop"
    scope = {"user_id": owner["id"]} if key == "listing" else {"owner_id": owner["id"]}
    for centre, radius in near_cases(homes):
        dist = {h[key]["id"]: haversine(centre, (h["lat"], h["lon"])) for h in hs}
        edge = {i for i, d in dist.items() if abs(d - radius) < 1}
        want = {i for i, d in dist.items() if d <= radius} - edge
        near = f"{centre[0]},{centre[1]}"
        got = set(all_ids(stack, path, near=near, radius_m=radius, **scope)) - edge
        assert got == want, (centre, radius)
        r = get(stack, path, near=near, radius_m=radius, order_by="distance", per_page=100, **scope)
        assert r.status_code == 200, r.text
        items = r.json()["items"]
        assert [i["id"] for i in items if i["id"] not in edge] == sorted(want, key=lambda i: (dist[i], i))
        for i in items:
            assert abs(i["distance_m"] - dist[i["id"]]) <= 1 and isinstance(i["distance_m"], int)
        # Paging by distance follows on, page after page.
        assert all_ids(stack, path, near=near, radius_m=radius, order_by="distance", per_page=3, **scope) == \
            [i["id"] for i in items]


def test_bbox_across_the_antimeridian_and_polygons_equal_brute_force(stack, homes):
    owner, hs = homes["owner"], homes["homes"]
    lat0, lon0 = homes["centres"]["east"]
    boxes = [(179.96, lat0 - 0.03, -179.97, lat0 + 0.04), (179.9, lat0 - 0.1, 179.99, lat0),
             (18.40, -33.95, 18.45, -33.90)]
    for west, south, east, north in boxes:
        def in_box(h, margin=0.0):
            lon_ok = (west + margin <= h["lon"] <= east - margin) if west <= east else \
                (h["lon"] >= west + margin or h["lon"] <= east - margin)
            return lon_ok and south + margin <= h["lat"] <= north - margin
        sure = {h["listing"]["id"] for h in hs if in_box(h, 0.0005)}
        maybe = {h["listing"]["id"] for h in hs if in_box(h, -0.0005)}
        got = set(all_ids(stack, "/api/v1/listings", user_id=owner["id"], bbox=f"{west},{south},{east},{north}"))
        assert sure <= got <= maybe, (west, south, east, north)
        assert sure, "a box holds no home: the test tests nothing"
    rng = random.Random(5)
    for centre in (homes["centres"]["east"], homes["centres"]["cape"]):
        for _ in range(3):
            n = rng.randint(3, 9)
            ring = []
            for k in range(n):
                lat, lon = offset(centre, *(rng.uniform(1500, 7000) * f(2 * math.pi * (k + rng.random() * 0.5) / n)
                                            for f in (math.cos, math.sin)))
                ring.append((round(lon, 6), round(lat, 6)))
            ring.append(ring[0])
            text = ",".join(f"{lo} {la}" for lo, la in ring)
            want = {h["prop"]["id"] for h in hs if inside_ring(ring, h["lat"], h["lon"])}
            got = set(all_ids(stack, "/api/v1/properties", owner_id=owner["id"], polygon=text))
            assert got == want, text


def test_bad_search_parameters_are_400_naming_them(stack):
    square = "2 48,2.1 48,2.1 48.1,2 48.1,2 48"
    cases = [
        ({"near": "48.8,2.3", "radius_m": 100001}, "radius_m"),
        ({"near": "48.8,2.3", "radius_m": 0}, "radius_m"),
        ({"near": "48.8,2.3", "radius_m": "nan"}, "radius_m"),
        ({"radius_m": 100}, "radius_m"),
        ({"near": "48.8,2.3"}, "radius_m"),
        ({"near": "91,2", "radius_m": 10}, "near"),
        ({"near": "48.8", "radius_m": 10}, "near"),
        ({"near": "48.8,2.3,1", "radius_m": 10}, "near"),
        ({"near": "0x1p3,2", "radius_m": 10}, "near"),
        ({"order_by": "distance"}, "order_by"),
        ({"order_by": "-distance", "near": "1,1", "radius_m": 5}, "order_by"),
        ({"bbox": "2,48,3"}, "bbox"),
        ({"bbox": "2,49,3,48"}, "bbox"),
        ({"bbox": "-100,0,100,1"}, "bbox"),
        ({"bbox": "2,48,3,91"}, "bbox"),
        ({"polygon": "2 48,3 48"}, "polygon"),
        ({"polygon": "2 48,3 48,2 48"}, "polygon"),
        ({"polygon": "2 48,3 48,3 49,2 49"}, "polygon"),  # not closed
        ({"polygon": "0 0,1 1,1 0,0 1,0 0"}, "polygon"),  # edges cross
        ({"polygon": ",".join(f"{math.cos(2 * math.pi * k / 101):.5f} {math.sin(2 * math.pi * k / 101):.5f}"
                              for k in list(range(101)) + [0])}, "polygon"),
        ({"polygon": "a b,c d,e f,a b"}, "polygon"),
        ({"min_bedrooms": -1}, "min_bedrooms"),
        ({"min_bedrooms": 3, "max_bedrooms": 2}, "min_bedrooms"),
        ({"min_area_m2": "big"}, "min_area_m2"),
        ({"type": "castle"}, "type"),
        ({"frobnicate": 1}, "frobnicate"),
    ]
    for params, field in cases:
        for path in ("/api/v1/listings", "/api/v1/properties"):
            if path.endswith("properties") and field in ("min_bedrooms", "min_area_m2", "type"):
                continue
            assert_problem(get(stack, path, **params), 400, field=field)
    # A polygon of 100 vertices is accepted.
    hundred = ",".join(f"{math.cos(2 * math.pi * k / 100):.5f} {math.sin(2 * math.pi * k / 100):.5f}"
                       for k in list(range(100)) + [0])
    assert get(stack, "/api/v1/listings", polygon=hundred).status_code == 200
    assert get(stack, "/api/v1/properties", polygon=square).status_code == 200


def test_nng_callers_get_the_same_answers(stack, homes):
    owner = homes["owner"]
    centre = homes["centres"]["cape"]
    query = {"near": f"{centre[0]},{centre[1]}", "radius_m": "4000", "order_by": "distance", "per_page": "50",
             "user_id": str(owner["id"]), "min_bedrooms": "1"}
    code, reply = call(stack, "listings.list", {"query": query})
    assert code == 0 and reply["status"] == 200, reply
    http = get(stack, "/api/v1/listings", **query).json()
    assert [i["id"] for i in reply["body"]["items"]] == [i["id"] for i in http["items"]]
    assert reply["body"]["total"] == http["total"]
    code, reply = call(stack, "listings.list", {"query": {"near": "1,2", "radius_m": "0"}})
    assert reply["status"] == 400 and reply["error"]["fields"][0]["field"] == "radius_m", reply


def test_a_sync_missed_while_listings_were_down_is_sent_later():
    """The listings pool is stopped while a property changes: the change
    answers 200, and once listings is back the sweep (11 s after the
    change) brings the snapshot up to date; nothing is lost."""
    with running(workers=1, pools=[["users", "properties", "places", "bookings"], ["listings"]]) as s:
        owner = person(s)
        pid = send(s, "POST", "/api/v1/properties", {"name": "Late", "type": "house", "city": "Bergen",
                                                    "address": "4 Kai"}, token=owner["token"]).json()["id"]
        r = send(s, "POST", "/api/v1/listings", {"property_id": pid, "price": 700, "listing_type": "rent"},
                 token=owner["token"])
        assert r.status_code == 201, r.text
        lid = r.json()["id"]
        s.stop_process("pool-listings")
        r = send(s, "PATCH", f"/api/v1/properties/{pid}", {"city": "Tromsø"}, token=owner["token"])
        assert r.status_code == 200, r.text
        s.start_pool("pool-listings")
        wait_until(lambda: ids_of(get(s, "/api/v1/listings", city="tromsø")) == [lid], 40,
                   "the listing to follow its property's change once listings is back")


BANDS = [0, 500, 1000, 2000, 5000, 100000, 250000, 500000, 1000000]


def test_facets_count_what_the_search_finds(stack, homes):
    owner, hs = homes["owner"], homes["homes"]
    searches = [{}, {"min_bedrooms": 1, "listing_type": "rent"}, {"city": homes["city"]["cape"], "max_price": 3000},
                {"near": f"{homes['centres']['east'][0]},{homes['centres']['east'][1]}", "radius_m": 4000}]
    for search in searches:
        r = get(stack, "/api/v1/listings/facets", user_id=owner["id"], **search)
        assert r.status_code == 200, r.text
        body = r.json()
        ids = all_ids(stack, "/api/v1/listings", user_id=owner["id"], **search)
        found = [h for h in hs if h["listing"]["id"] in ids]
        assert body["total"] == len(found)
        f = body["facets"]
        assert set(f) == {"type", "listing_type", "bedrooms", "bathrooms", "city", "price_band"}

        def counted(values):
            out = {}
            for v in values:
                out[v] = out.get(v, 0) + 1
            return out
        assert {g["value"]: g["count"] for g in f["type"]} == counted(h["prop"]["type"] for h in found)
        assert [g["count"] for g in f["type"]] == sorted((g["count"] for g in f["type"]), reverse=True)
        assert {g["value"]: g["count"] for g in f["listing_type"]} == counted(h["listing"]["listing_type"] for h in found)
        assert [(g["value"], g["count"]) for g in f["bedrooms"]] == sorted(counted(h["prop"]["bedrooms"] for h in found).items())
        assert {g["value"]: g["count"] for g in f["city"]} == counted(h["prop"]["city"] for h in found)
        want = [sum(1 for h in found if lo <= h["listing"]["price"] and (hi is None or h["listing"]["price"] < hi))
                for lo, hi in zip(BANDS, BANDS[1:] + [None])]
        assert [(b["from"], b["to"], b["count"]) for b in f["price_band"]] == \
            list(zip(BANDS, BANDS[1:] + [None], want))
    r = get(stack, "/api/v1/listings/facets", fields="type,price_band", user_id=owner["id"])
    assert set(r.json()["facets"]) == {"type", "price_band"}
    for params, field in [({"fields": "colour"}, "fields"), ({"fields": ""}, "fields"), ({"page": 2}, "page"),
                          ({"order_by": "price"}, "order_by"), ({"radius_m": 5}, "radius_m"),
                          ({"min_bedrooms": "x"}, "min_bedrooms")]:
        assert_problem(get(stack, "/api/v1/listings/facets", **params), 400, field=field)
    code, reply = call(stack, "listings.facets", {"query": {"user_id": str(owner["id"]), "fields": "bedrooms"}})
    assert code == 0 and reply["body"] == get(stack, "/api/v1/listings/facets", user_id=owner["id"],
                                               fields="bedrooms").json()


def test_odata_and_reso_see_the_home_too(stack, homes):
    owner, hs = homes["owner"], homes["homes"]
    cape = homes["city"]["cape"]
    r = get(stack, "/api/v1/listings", **{"$filter": f"user_id eq {owner['id']} and bedrooms ge 2 and "
                                                     f"city eq '{cape}' and type in ('house', 'villa')",
                                          "$orderby": "living_area_m2 desc", "$top": 100, "$select": "bedrooms"})
    assert r.status_code == 200, r.text
    want = sorted((h for h in hs if h["prop"]["bedrooms"] >= 2 and h["cluster"] == "cape"
                   and h["prop"]["type"] in ("house", "villa")),
                  key=lambda h: (-h["prop"]["living_area_m2"], -h["listing"]["id"]))
    assert [i["id"] for i in r.json()["items"]] == [h["listing"]["id"] for h in want]
    assert all(set(i) == {"id", "property"} for i in r.json()["items"])
    r = get(stack, "/api/v1/properties", **{"$filter": f"owner_id eq {owner['id']} and bathrooms eq 0",
                                            "$top": 100, "$select": "bathrooms,location"})
    assert sorted(i["id"] for i in r.json()["items"]) == sorted(h["prop"]["id"] for h in hs if h["prop"]["bathrooms"] == 0)
    r = requests.get(stack.url("/reso/odata/Property"), params={
        "$filter": f"ListAgentKey eq '{owner['id']}' and BedroomsTotal ge 3", "$top": 100}, timeout=15)
    assert r.status_code == 200, r.text
    got = {e["ListingKey"]: e for e in r.json()["value"]}
    assert set(got) == {str(h["listing"]["id"]) for h in hs if h["prop"]["bedrooms"] >= 3}
    for h in hs:
        e = got.get(str(h["listing"]["id"]))
        if e:
            assert (e["Latitude"], e["Longitude"], e["BathroomsTotalInteger"]) == (h["lat"], h["lon"], h["prop"]["bathrooms"])


def test_a_facet_answers_its_most_frequent_values_only(stack):
    """Past 100 cities, the city facet keeps the 100 with the most listings:
    a city with many listings is never cut for one with few."""
    owner = person(stack)
    big = unique("Big")
    bodies = [{"name": "B", "type": "room", "city": big, "address": "1 a"}] * 3 + \
             [{"name": "S", "type": "room", "city": unique("Small"), "address": "1 a"} for _ in range(101)]
    r = send(stack, "POST", "/api/v1/properties", bodies[:100], token=owner["token"])
    r2 = send(stack, "POST", "/api/v1/properties", bodies[100:], token=owner["token"])
    ids = [i["body"]["id"] for i in r.json()["items"] + r2.json()["items"]]
    listings = [{"property_id": i, "price": 100, "listing_type": "rent"} for i in ids]
    for chunk in (listings[:100], listings[100:]):
        assert send(stack, "POST", "/api/v1/listings", chunk, token=owner["token"]).status_code == 207
    f = get(stack, "/api/v1/listings/facets", user_id=owner["id"], fields="city").json()
    assert f["total"] == 104 and len(f["facets"]["city"]) == 100
    assert f["facets"]["city"][0] == {"value": big, "count": 3}


def test_odata_geo_functions_equal_brute_force(stack, homes):
    owner, hs = homes["owner"], homes["homes"]
    for centre, radius in near_cases(homes)[:3]:
        point = f"geography'POINT({centre[1]} {centre[0]})'"
        dist = {h["listing"]["id"]: haversine(centre, (h["lat"], h["lon"])) for h in hs}
        edge = {i for i, d in dist.items() if abs(d - radius) < 1}
        want = {i for i, d in dist.items() if d <= radius} - edge
        for path, key, scope in (("/api/v1/listings", "listing", f"user_id eq {owner['id']}"),
                                 ("/api/v1/properties", "prop", f"owner_id eq {owner['id']}")):
            ids = {h[key]["id"]: h["listing"]["id"] for h in hs}
            r = get(stack, path, **{"$filter": f"{scope} and geo.distance(location, {point}) lt {radius}",
                                    "$top": 100, "$count": "true"})
            assert r.status_code == 200, r.text
            assert {ids[i["id"]] for i in r.json()["items"]} - edge == want, (path, centre, radius)
            # Nearest first, each item with its distance; paging follows on.
            r = get(stack, path, **{"$filter": f"{scope} and {radius} ge geo.distance(location, {point})",
                                    "$orderby": f"geo.distance(location, {point})", "$top": 100})
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            assert [ids[i["id"]] for i in items if ids[i["id"]] not in edge] == sorted(want, key=lambda i: (dist[i], i))
            assert all(abs(i["distance_m"] - dist[ids[i["id"]]]) <= 1 for i in items)
            r2 = get(stack, path, **{"$filter": f"{scope} and {radius} ge geo.distance(location, {point})",
                                     "$orderby": f"geo.distance(location, {point}) asc", "$top": 3, "$skip": 3})
            assert [i["id"] for i in r2.json()["items"]] == [i["id"] for i in items[3:6]]
        r = requests.get(stack.url("/reso/odata/Property"), params={
            "$filter": f"ListAgentKey eq '{owner['id']}' and geo.distance(Coordinates, {point}) le {radius}",
            "$top": 100, "$select": "Coordinates"}, timeout=15)
        assert r.status_code == 200, r.text
        assert {int(e["ListingKey"]) for e in r.json()["value"]} - edge == want
        for e in r.json()["value"]:
            assert e["Coordinates"]["type"] == "Point" and len(e["Coordinates"]["coordinates"]) == 2
    # Ordered by distance with a condition on the id (the key column beside the R*Tree's own id).
    one = hs[0]["listing"]["id"]
    r = get(stack, "/api/v1/listings", **{"$filter": f"id eq {one}",
                                          "$orderby": "geo.distance(location, geography'POINT(18.42 -33.92)')"})
    assert r.status_code == 200 and [i["id"] for i in r.json()["items"]] == [one], r.text
    rng = random.Random(9)
    centre = homes["centres"]["cape"]
    ring = []
    for k in range(7):
        lat, lon = offset(centre, *(rng.uniform(2000, 6000) * f(2 * math.pi * (k + rng.random() * 0.5) / 7)
                                    for f in (math.cos, math.sin)))
        ring.append((round(lon, 6), round(lat, 6)))
    ring.append(ring[0])
    wkt = "geography'POLYGON((" + ", ".join(f"{lo} {la}" for lo, la in ring) + "))'"
    want = {h["prop"]["id"] for h in hs if inside_ring(ring, h["lat"], h["lon"])}
    r = get(stack, "/api/v1/properties", **{"$filter": f"owner_id eq {owner['id']} and geo.intersects(location, {wkt})",
                                            "$top": 100})
    assert r.status_code == 200, r.text
    assert {i["id"] for i in r.json()["items"]} == want and want
    r = get(stack, "/api/v1/properties", **{"$filter": f"owner_id eq {owner['id']} and not geo.intersects(location, "
                                                        f"{wkt})", "$top": 100})
    assert {i["id"] for i in r.json()["items"]} == {h["prop"]["id"] for h in hs} - want
    for bad in ("geo.distance(location, geography'POINT(2 48)') gt 5",
                "geo.distance(location, geography'POINT(2 48)') lt 200000",
                "geo.intersects(location, geography'POLYGON((0 0, 1 1, 1 0, 0 1, 0 0))')",
                "geo.distance(location, 'POINT(2 48)') lt 5", "location eq 5"):
        for path in ("/api/v1/listings", "/api/v1/properties"):
            assert_problem(get(stack, path, **{"$filter": bad}), 400, field="$filter")
    assert_problem(get(stack, "/api/v1/listings", **{"$orderby": "geo.distance(location, geography'POINT(2 48)') desc"}),
                   400, field="$orderby")
