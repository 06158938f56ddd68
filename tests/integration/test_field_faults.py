"""Field faults: ten small inputs that once broke Roost, each with its
siblings, so that the whole kind stays fixed.

1 strings are never cut; limits count characters; keys are never prefixes
2 arithmetic on client numbers is checked on every route
3 a key repeated at any depth is a 400 that names its path, and leaves nothing behind
4 case-insensitive means NFC + full Unicode case folding
5 the errors h2o makes by itself have Roost's shapes
6 ids are 1, 2, 3 ... in creation order across workers
7 doubles in their shortest form, compact JSON
8 every process is called roost-*
9 Bearer and entity tags as their RFCs say; conditional GET
10 CORS and compressed responses

Every body read here is also checked as strict UTF-8 JSON by the helper that
conftest.py installs for all tests."""
import concurrent.futures
import gzip
import json
import os
import socket
import time
import unicodedata

import brotli
import pytest
import requests

from roost_api import JSON, assert_problem, create_user, person, send, strict_json, token_for, unique, user_body
from roost_stack import running

EURO = "\u20ac"


@pytest.fixture(scope="module")
def ada(stack):
    return person(stack)


def prop(stack, owner, **over):
    body = {"name": "Flat", "type": "apartment", "city": unique("City"), "address": "1 Main Street",
            "rooms": [{"name": "Main", "kind": "living", "area_m2": 20}]}
    body.update(over)
    return send(stack, "POST", "/api/v1/properties", body, token=owner["token"])


def city_items(stack):
    r = requests.get(stack.url("/api/v1/cities"), timeout=10)
    assert r.status_code == 200 and r.content, (r.status_code, r.content[:200])
    return {c["city"]: c["count"] for c in r.json()["items"]}


# =====================================================================================
# 1. No string is ever cut; limits in characters; keys are never prefixes
# =====================================================================================

def test_a_long_non_ascii_city_keeps_cities_valid_for_everyone(stack, ada):
    city = "\u00e9" * 64  # 128 bytes: once cut at byte 127, inside a character
    r = prop(stack, ada, city=city)
    assert r.status_code == 201, r.text
    assert r.json()["city"] == city
    assert city_items(stack)[city] == 1
    ids = [p["id"] for p in requests.get(stack.url("/api/v1/properties"), params={"city": city},
                                         timeout=10).json()["items"]]
    assert ids == [r.json()["id"]]


def test_a_city_key_is_never_a_prefix(stack, ada):
    city = EURO * 100  # 300 bytes: its key was once cut at 255
    r = prop(stack, ada, city=city)
    assert r.status_code == 201, r.text
    other = EURO * 85 + "x" * 15
    assert requests.get(stack.url("/api/v1/properties"), params={"city": other}, timeout=10).json()["items"] == []
    found = requests.get(stack.url("/api/v1/properties"), params={"city": city}, timeout=10).json()["items"]
    assert [p["id"] for p in found] == [r.json()["id"]]
    assert city_items(stack)[city] == 1


def test_limits_are_counted_in_characters(stack, ada):
    assert prop(stack, ada, name="\u00e9" * 200).status_code == 201  # 200 characters, 400 bytes
    assert_problem(prop(stack, ada, name="\u00e9" * 201), 400, field="name")
    assert prop(stack, ada, name=EURO * 200).status_code == 201
    # The same 100 characters written decomposed (NFD) are still 100 characters.
    nfd = unicodedata.normalize("NFD", "\u00e9" * 100)
    assert len(nfd) == 200
    r = prop(stack, ada, city=nfd)
    assert r.status_code == 201, r.text
    assert_problem(prop(stack, ada, city=unicodedata.normalize("NFD", "\u00e9" * 101)), 400, field="city")
    # Users and places count the same way.
    assert send(stack, "POST", "/api/v1/users", user_body(unique(), first_name=EURO * 100)).status_code == 201
    assert_problem(send(stack, "POST", "/api/v1/users", user_body(unique(), first_name=EURO * 101)), 400,
                   field="first_name")
    r = send(stack, "POST", "/api/v1/places", {"name": EURO * 90 + unique("")[:10], "country": EURO * 100},
             token=ada["token"])
    assert r.status_code == 201 and r.json()["country"] == EURO * 100, r.text


def test_long_client_text_in_error_messages_stays_valid_utf8(stack, ada):
    key = "\u00e9" * 300
    r = send(stack, "POST", "/api/v1/users", {**user_body(unique()), key: 1})
    p = assert_problem(r, 400, field=key)  # the field is named whole
    assert any(e["message"].endswith("\u2026'") for e in p["errors"])  # the echo is shortened, and says so
    r = requests.get(stack.url("/api/v1/users?" + "&".join([f"{key}=1"] * 2)), timeout=10)
    assert_problem(r, 400)
    r = send(stack, "POST", "/api/v1/properties", raw="{\"name\": \"" + key * 3, token=ada["token"])
    assert_problem(r, 400, code="malformed_json")
    # The classic routes' messages too.
    r = requests.post(stack.url("/users"), data={key: "x", "name": "A"}, timeout=10)
    assert r.status_code == 400 and r.json()["result"] is False


def test_emails_that_share_a_long_prefix_are_different_emails(stack):
    local = "\u00e9" * 130  # 260 bytes: the keys were once cut at 255
    a = send(stack, "POST", "/api/v1/users", user_body(unique(), email=f"{local}a@example.org"))
    b = send(stack, "POST", "/api/v1/users", user_body(unique(), email=f"{local}b@example.org"))
    assert a.status_code == 201 and b.status_code == 201, (a.text, b.text)


# =====================================================================================
# 2. Arithmetic on client-supplied numbers
# =====================================================================================

@pytest.mark.parametrize("path", ["/users", "/listings", "/public-api/listings"])
@pytest.mark.parametrize("page_num", ["9223372036854775807", "1000000000000000000", "1000001",
                                      "99999999999999999999", "-9223372036854775808"])
def test_classic_paging_overflow_is_a_400_in_the_classic_shape(stack, path, page_num):
    r = requests.get(stack.url(path), params={"page_num": page_num, "page_size": "100"}, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json() == {"result": False, "errors": ["invalid page_num"]}


@pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/properties", "/api/v1/listings", "/api/v1/places"])
@pytest.mark.parametrize("query", ["page=9223372036854775807", "page=1000001", "per_page=9223372036854775807",
                                   "page=-1", "page=1e3"])
def test_main_paging_overflow_is_a_400_problem(stack, path, query):
    assert_problem(requests.get(stack.url(f"{path}?{query}"), timeout=10), 400)


@pytest.mark.parametrize("query", ["min_price=9223372036854775807", "max_price=99999999999999999999",
                                   "min_price=-1", "min_rooms=9223372036854775807"])
def test_range_overflow_is_a_400(stack, query):
    path = "/api/v1/properties" if "rooms" in query else "/api/v1/listings"
    assert_problem(requests.get(stack.url(f"{path}?{query}"), timeout=10), 400)


@pytest.mark.parametrize("path,query,field", [
    ("/api/v1/properties", "min_rooms=101", "min_rooms"),
    ("/api/v1/properties", "max_rooms=-1", "max_rooms"),
    ("/api/v1/listings", "min_price=1e3", "min_price"),
    ("/api/v1/listings", "max_price=0", "max_price"),
])
def test_a_bad_lone_bound_gets_one_error_about_itself(stack, path, query, field):
    """A range's bounds are compared only when both were sent and valid."""
    r = requests.get(stack.url(f"{path}?{query}"), timeout=10)
    assert_problem(r, 400, field=field)
    assert len(r.json()["errors"]) == 1, r.json()


def test_price_overflow_is_a_400_on_every_create(stack, ada):
    for price in ["9223372036854775808", "-9223372036854775809", "1e30"]:
        r = requests.post(stack.url("/listings"), data={"user_id": ada["id"], "listing_type": "rent", "price": price},
                          timeout=10)
        assert r.status_code == 400 and r.json()["result"] is False, r.text
    for price in [10 ** 13, 1e300, -(2 ** 63)]:
        assert_problem(send(stack, "POST", "/api/v1/listings", {"listing_type": "rent", "price": price},
                            token=ada["token"]), 400, field="price")
    # Beyond int64 the JSON itself cannot be read as BSON: still a 400.
    assert_problem(send(stack, "POST", "/api/v1/listings", {"listing_type": "rent", "price": 2 ** 63},
                        token=ada["token"]), 400)


def test_far_dates_are_a_400_not_a_500(stack, ada):
    p = prop(stack, ada).json()
    r = requests.get(stack.url(f"/api/v1/properties/{p['id']}/availability"),
                     params={"from": "0001-01-01", "to": "9999-12-31"}, timeout=10)
    assert_problem(r, 400, field="to")
    r = send(stack, "POST", f"/api/v1/properties/{p['id']}/bookings",
             {"check_in": "9999-12-30", "check_out": "9999-12-31"}, token=ada["token"])
    assert r.status_code in (201, 409), r.text  # far, but a real stay


# =====================================================================================
# 3. A key repeated at any depth
# =====================================================================================

def dup_room(characteristics='{"floor": 1, "floor": 2}', kind='"kind": "office"'):
    return ('{"name": "Flat", "type": "apartment", "city": "Dup", "address": "1 Main Street", '
            f'"rooms": [{{"name": "A", {kind}, "area_m2": 5, "characteristics": {characteristics}}}]}}')


@pytest.mark.parametrize("raw,path", [
    (dup_room(), "rooms[0].characteristics.floor"),
    (dup_room(characteristics="{}", kind='"kind": "office", "kind": "garage"'), "rooms[0].kind"),
    ('{"name": "A", "name": "B", "type": "apartment", "city": "Dup", "address": "x"}', "name"),
])
def test_a_repeated_key_is_a_400_naming_its_path_and_leaves_nothing(stack, db, ada, raw, path):
    coll = db[stack.prefix + "properties"]["properties"]
    rid = "dup-" + unique("")
    before = coll.count_documents({})
    r = send(stack, "POST", "/api/v1/properties", raw=raw, token=ada["token"], headers={"X-Request-Id": rid})
    assert_problem(r, 400, field=path)
    assert coll.count_documents({}) == before
    # The corrected request, with the same request id, is answered as a first one.
    fixed = json.loads(raw.replace('"floor": 1, "floor": 2', '"floor": 2').replace(
        '"kind": "office", "kind": "garage"', '"kind": "garage"').replace('"name": "A", "name": "B"', '"name": "B"'))
    r = send(stack, "POST", "/api/v1/properties", fixed, token=ada["token"], headers={"X-Request-Id": rid})
    assert r.status_code == 201, r.text
    assert r.json()["id"] == coll.find_one(sort=[("_id", -1)])["_id"]
    if "floor" in path:
        assert r.json()["rooms"][0]["characteristics"] == {"floor": 2}


def test_repeated_keys_are_refused_in_every_body_and_over_nng(stack, ada):
    p = prop(stack, ada).json()
    for method, url, raw, path in [
        ("PATCH", f"/api/v1/properties/{p['id']}/rooms/1", '{"characteristics": {"a": 1, "a": 2}}',
         "characteristics.a"),
        ("PATCH", f"/api/v1/users/{ada['id']}", '{"first_name": "A", "first_name": "B"}', "first_name"),
        ("POST", "/api/v1/listings", '{"listing_type": "rent", "price": 5, "price": 6}', "price"),
    ]:
        assert_problem(send(stack, method, url, raw=raw, token=ada["token"]), 400, field=path)
    r = requests.post(stack.url("/public-api/users"), data='{"name": "A", "name": "B"}', headers=JSON, timeout=10)
    assert r.status_code == 400 and r.json()["result"] is False, r.text
    # A direct nng caller builds BSON itself: the same rule, from the worker.
    r = stack.roostctl("call", "properties.create", '{"auth": {"sub": %d}, "body": %s}' % (ada["id"], dup_room()))
    reply = json.loads(r.stdout)
    assert reply["status"] == 400, reply
    assert reply["error"]["fields"] == [{"field": "rooms[0].characteristics.floor",
                                         "message": "appears more than once"}]


# =====================================================================================
# 4. Case-insensitive: NFC + full case folding
# =====================================================================================

def test_city_filter_and_cities_fold_unicode_case(stack, ada):
    tag = unique("")[:6]
    city = f"Z\u00fcrich-\u00c9tage {tag}"
    a = prop(stack, ada, city=city).json()
    b = prop(stack, ada, city=city.upper()).json()
    c = prop(stack, ada, city=unicodedata.normalize("NFD", city.lower())).json()
    for spelling in [city, city.upper(), city.lower(), unicodedata.normalize("NFD", city),
                     unicodedata.normalize("NFD", city.upper())]:
        found = requests.get(stack.url("/api/v1/properties"), params={"city": spelling, "per_page": 100},
                             timeout=10).json()["items"]
        assert sorted(p["id"] for p in found) == sorted([a["id"], b["id"], c["id"]]), spelling
    cities = {k: v for k, v in city_items(stack).items() if tag in k.lower() or tag.upper() in k}
    assert list(cities.values()) == [3], cities  # one city, whichever spelling names it


def test_strasse_and_sharp_s_are_one_city(stack, ada):
    tag = unique("")[:6]
    a = prop(stack, ada, city=f"Stra\u00dfe {tag}").json()
    found = requests.get(stack.url("/api/v1/properties"), params={"city": f"STRASSE {tag}"}, timeout=10).json()
    assert [p["id"] for p in found["items"]] == [a["id"]]


def test_email_and_place_uniqueness_fold_unicode_case(stack, ada):
    local = unique("\u00e9lodie")
    assert send(stack, "POST", "/api/v1/users", user_body(unique(), email=f"{local}@example.org")).status_code == 201
    for other in [f"{local.upper()}@EXAMPLE.ORG", unicodedata.normalize("NFD", f"{local}@example.org")]:
        assert_problem(send(stack, "POST", "/api/v1/users", user_body(unique(), email=other)), 409,
                       code="email_taken")
    name = unique("M\u00fcnchen")
    assert send(stack, "POST", "/api/v1/places", {"name": name, "country": "Germany"},
                token=ada["token"]).status_code == 201
    assert_problem(send(stack, "POST", "/api/v1/places", {"name": name.upper(), "country": "Germany"},
                        token=ada["token"]), 409, code="place_name_taken")


# =====================================================================================
# 5. Errors the ingress makes on its own
# =====================================================================================

def raw_http(stack, data, timeout=5):
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except socket.timeout:
                break
            if not b:
                break
            chunks.append(b)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)}
    return int(lines[0].split()[1]), headers, body


def test_an_oversized_body_is_a_413_in_the_route_shape(stack):
    big = b"x" * (5 << 20)  # larger than h2o's own limit: it answered by itself
    r = requests.post(stack.url("/api/v1/users"), data=big, headers=JSON, timeout=15)
    p = assert_problem(r, 413, code="body_too_large")
    assert "1048576" in p["detail"]
    r = requests.post(stack.url("/users"), data=big, timeout=15)
    assert r.status_code == 413 and r.json()["result"] is False and r.headers["X-Request-Id"]
    assert r.headers["Content-Type"] == "application/json"


def test_broken_framing_is_a_problem(stack):
    status, headers, body = raw_http(stack, b"POST /api/v1/users HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                            b"Content-Type: application/json\r\n\r\nzz\r\n\r\n")
    assert status == 400
    assert headers["content-type"] == "application/problem+json" and headers["x-request-id"]
    assert strict_json(body)["status"] == 400
    status, headers, body = raw_http(stack, b"POST /users HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                                            b"Expect: 999-never\r\n\r\n")
    assert status == 417 and strict_json(body)["result"] is False


def test_errors_h2o_makes_under_reso_odata_are_odata_errors(stack):
    """docs/reso.md: every response under /reso/odata is OData's, with
    OData-Version; h2o's own 413 and broken framing included."""
    big = b"x" * (5 << 20)
    for path in ("/reso/odata/Property", "/reso/odata/Nowhere"):
        r = requests.post(stack.url(path), data=big, headers=JSON, timeout=15)
        assert r.status_code == 413 and r.headers["OData-Version"] == "4.0", (path, r.headers)
        assert r.headers["Content-Type"] == "application/json" and r.headers["X-Request-Id"]
        assert r.json()["error"]["code"] == "body_too_large", r.text
    status, headers, body = raw_http(stack, b"POST /reso/odata/Property HTTP/1.1\r\nHost: x\r\n"
                                            b"Transfer-Encoding: chunked\r\n\r\nzz\r\n\r\n")
    assert status == 400 and headers["odata-version"] == "4.0", headers
    assert strict_json(body)["error"]["code"] == "bad_request"


@pytest.mark.parametrize("path", ["/api/v1/listings", "/api/v1/properties", "/reso/odata/Property"])
@pytest.mark.parametrize("query", ["$orderby=x%20%C3%A9%C3%A9%C3%A9%C3%A9", "$select=" + "%C3%A9" * 100,
                                   "$orderby=" + "%C3%BC" * 50 + "%20desc", "$filter=" + "%C3%A9" * 300 + "%20eq%201",
                                   "%24" + "%C3%A9" * 80 + "=1"])
def test_client_text_in_an_error_is_never_cut_inside_a_character(stack, path, query):
    """Error messages quote client text cut between characters: a message cut
    inside one was not UTF-8, the worker's reply was refused, and the client
    got a 502 for its own mistake."""
    r = requests.get(stack.url(f"{path}?{query}"), timeout=10)
    assert r.status_code == 400, r.text
    r.content.decode("utf-8")  # strict


def test_unknown_routes_methods_and_files_have_the_route_shape(stack):
    assert_problem(requests.get(stack.url("/api/v1/nowhere"), timeout=10), 404)
    assert_problem(requests.get(stack.url("/static/no-such-file.js"), timeout=10), 404)
    r = requests.delete(stack.url("/api/v1/cities"), timeout=10)
    assert_problem(r, 405) and r.headers["Allow"]
    r = requests.delete(stack.url("/listings"), timeout=10)
    assert r.status_code == 405 and r.json()["result"] is False and r.headers["X-Request-Id"]


# =====================================================================================
# 6. Dense ids, 7. numbers and compact JSON, 10. CORS (a stack of their own)
# =====================================================================================

@pytest.fixture(scope="module")
def fresh():
    """An empty database, two workers, and CORS open to one origin."""
    with running(workers=2, env={"ROOST_CORS_ORIGINS": "https://app.example, http://localhost:5173"}) as s:
        yield s


def test_ids_are_dense_in_creation_order(fresh):
    ids = []
    for i in range(3):
        ids.append(requests.post(fresh.url("/users"), data={"name": f"Classic {i}"}, timeout=10).json()["user"]["id"])
        r = requests.post(fresh.url("/public-api/users"), json={"name": f"Public {i}"}, timeout=10)
        ids.append(r.json()["user"]["id"])
    assert ids == [1, 2, 3, 4, 5, 6]
    listings = []
    for i in range(2):
        listings.append(requests.post(fresh.url("/listings"), data={"user_id": 1, "listing_type": "rent",
                                                                   "price": "100"}, timeout=10).json()["listing"]["id"])
        r = requests.post(fresh.url("/public-api/listings"), json={"user_id": 2, "listing_type": "sale", "price": 7},
                          timeout=10)
        listings.append(r.json()["listing"]["id"])
    assert listings == [1, 2, 3, 4]


def test_forty_concurrent_creates_take_exactly_the_next_forty_ids(fresh):
    top = max(u["id"] for u in requests.get(fresh.url("/users?page_size=1"), timeout=10).json()["users"])

    def make(i):
        return requests.post(fresh.url("/users"), data={"name": f"Burst {i}"}, timeout=20)

    with concurrent.futures.ThreadPoolExecutor(max_workers=40) as pool:
        results = list(pool.map(make, range(40)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    assert sorted(r.json()["user"]["id"] for r in results) == list(range(top + 1, top + 41))


def test_a_failed_create_takes_no_id(fresh):
    u = create_user(fresh)
    assert_problem(send(fresh, "POST", "/api/v1/users", user_body(u["username"])), 409)
    assert create_user(fresh)["id"] == u["id"] + 1


def test_doubles_are_shortest_and_json_is_compact(fresh):
    u = create_user(fresh)
    token = token_for(fresh, u["username"])
    rooms = [{"name": "A", "kind": "office", "area_m2": 4.3, "characteristics": {"ceiling": 2.7, "ratio": 0.1}},
             {"name": "B", "kind": "office", "area_m2": 12.25, "characteristics": {"big": 1e21, "x": 100.0}}]
    r = send(fresh, "POST", "/api/v1/properties", {"name": "F", "type": "house", "city": "Numbers", "address": "1",
                                                   "rooms": rooms}, token=token)
    assert r.status_code == 201, r.text
    assert '"area_m2":4.3,' in r.text and "4.2999" not in r.text
    assert '"ratio":0.1' in r.text and '"big":1e+21' in r.text and '"ceiling":2.7' in r.text
    for path in [f"/api/v1/properties/{r.json()['id']}", "/api/v1/users?per_page=5", "/users", "/api/v1/cities",
                 "/api/v1/nowhere"]:
        got = requests.get(fresh.url(path), timeout=10)
        compact = json.dumps(got.json(), separators=(",", ":"), ensure_ascii=False)
        assert got.text == compact, got.text[:300]


def test_cors_preflight_and_actual_requests(fresh):
    origin = "https://app.example"
    r = requests.options(fresh.url("/api/v1/properties"), headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"}, timeout=10)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Authorization" in r.headers["Access-Control-Allow-Headers"]
    assert "Origin" in r.headers["Vary"] and "Access-Control-Allow-Credentials" not in r.headers
    r = requests.get(fresh.url("/api/v1/properties"), headers={"Origin": origin}, timeout=10)
    assert r.headers["Access-Control-Allow-Origin"] == origin and "Origin" in r.headers["Vary"]
    assert "ETag" in r.headers["Access-Control-Expose-Headers"]
    r = requests.get(fresh.url("/api/v1/nowhere"), headers={"Origin": origin}, timeout=10)
    assert r.status_code == 404 and r.headers["Access-Control-Allow-Origin"] == origin  # errors are readable too
    # Refusals say why, and open nothing.
    for headers in [{"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"},
                    {"Origin": origin, "Access-Control-Request-Method": "PUT"},
                    {"Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "x-evil"}]:
        r = requests.options(fresh.url("/api/v1/properties"), headers=headers, timeout=10)
        assert_problem(r, 403)
        assert "Access-Control-Allow-Methods" not in r.headers
    r = requests.get(fresh.url("/api/v1/properties"), headers={"Origin": "https://evil.example"}, timeout=10)
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_a_browser_odata_client_may_read_the_reso_face(fresh):
    """A browser OData client sends OData-Version and OData-MaxVersion (and
    may send Prefer): the preflight allows them, and the OData-Version of
    the answer is readable."""
    origin = "https://app.example"
    r = requests.options(fresh.url("/reso/odata/Property"), headers={
        "Origin": origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "odata-version, odata-maxversion, prefer, if-none-match"}, timeout=10)
    assert r.status_code == 204, r.text
    for h in ("OData-Version", "OData-MaxVersion", "Prefer"):
        assert h in r.headers["Access-Control-Allow-Headers"]
    r = requests.get(fresh.url("/reso/odata/Property?$top=1"),
                     headers={"Origin": origin, "OData-Version": "4.0", "OData-MaxVersion": "4.0"}, timeout=10)
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == origin
    assert "OData-Version" in r.headers["Access-Control-Expose-Headers"]


def test_cors_is_off_by_default(stack):
    r = requests.options(stack.url("/api/v1/properties"), timeout=10)
    assert r.status_code == 204 and set(r.headers["Allow"].split(", ")) == {"GET", "POST", "OPTIONS"}
    r = requests.options(stack.url("/api/v1/properties"), headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"}, timeout=10)
    assert_problem(r, 403, code="origin_not_allowed")
    r = requests.get(stack.url("/api/v1/properties"), headers={"Origin": "https://app.example"}, timeout=10)
    assert not [h for h in r.headers if h.lower().startswith("access-control")]


def test_large_json_is_compressed_with_br_or_gzip(fresh):
    u = create_user(fresh)
    token = token_for(fresh, u["username"])
    for i in range(50):
        assert send(fresh, "POST", "/api/v1/properties", {
            "name": f"Compressible flat {i}", "type": "apartment", "city": "Squeeze", "address": f"{i} Long Street",
            "description": "A bright flat with a view of the river and the old town. " * 4,
            "rooms": [{"name": "Living", "kind": "living", "area_m2": 20.5}]}, token=token).status_code == 201
    url = fresh.url("/api/v1/properties?city=Squeeze&per_page=50")
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and "Accept-Encoding" in plain.headers["Vary"]
    raw = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, timeout=10, stream=True)
    assert raw.headers["Content-Encoding"] == "br" and "Accept-Encoding" in raw.headers["Vary"]
    coded = raw.raw.read(decode_content=False)
    assert len(coded) < len(plain.content) / 4
    assert strict_json(brotli.decompress(coded)) == plain.json()
    raw = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=10, stream=True)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert strict_json(gzip.decompress(raw.raw.read(decode_content=False))) == plain.json()
    small = requests.get(fresh.url("/healthz"), headers={"Accept-Encoding": "gzip, br"}, timeout=10)
    assert "Content-Encoding" not in small.headers  # small bodies are not worth it


# =====================================================================================
# 8. Process names
# =====================================================================================

def comm(pid):
    with open(f"/proc/{pid}/comm") as f:
        return f.read().strip()


def cmdline(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return [a.decode() for a in f.read().split(b"\0") if a]


def test_every_process_is_called_roost_something(stack):
    pool = stack.procs["pool"].pid
    assert comm(pool) == "roost-pool"
    workers = stack.worker_pids()
    assert workers
    for pid in workers:
        assert comm(pid) == "roost-worker"
        assert cmdline(pid) == ["roost-worker", "all"]
        assert os.readlink(f"/proc/{pid}/exe").endswith("/roost-worker")
    assert comm(stack.procs["ingress"].pid) == "roost-ingress"
    if "db" in stack.procs:  # not when the tests use ROOST_TEST_MONGODB_URI's database
        assert comm(stack.procs["db"].pid).startswith("roost-embedded")


def test_a_pool_of_one_service_names_it():
    with running(workers=1, pools=[["users"], ["listings"], ["properties", "places", "bookings"]]) as s:
        for name, services in [("pool-users", "users"), ("pool-properties-places-bookings", "properties,places,bookings")]:
            pids = s.worker_pids(name)
            assert pids and all(cmdline(pid) == ["roost-worker", services] for pid in pids)


# =====================================================================================
# 9. Bearer and entity tags, exactly; conditional GET
# =====================================================================================

@pytest.mark.parametrize("template,ok", [
    ("Bearer {t}", True), ("bearer {t}", True), ("BEARER {t}", True), ("Bearer   {t}", True),
    ("Bearer\t{t}", False), ("Bearer {t} x", False), ("Bearer", False), ("Basic {t}", False),
    ("Bearer \"{t}\"", False), ("Bearer {t},", False),
])
def test_bearer_credentials_follow_rfc6750(stack, ada, template, ok):
    r = requests.get(stack.url("/api/v1/users/me"), headers={"Authorization": template.format(t=ada["token"])},
                     timeout=10)
    if ok:
        assert r.status_code == 200 and r.json()["id"] == ada["id"], r.text
    else:
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_conditional_get_answers_304_on_every_versioned_resource(stack, ada):
    p = prop(stack, ada).json()
    lst = send(stack, "POST", "/api/v1/listings", {"listing_type": "rent", "price": 900}, token=ada["token"]).json()
    for path in [f"/api/v1/properties/{p['id']}", f"/api/v1/users/{ada['id']}", f"/api/v1/listings/{lst['id']}"]:
        first = requests.get(stack.url(path), timeout=10)
        etag = first.headers["ETag"]
        assert etag == f'"{first.json()["version"]}"', path
        for inm in [etag, "W/" + etag, f'"999", {etag}', "*"]:
            r = requests.get(stack.url(path), headers={"If-None-Match": inm}, timeout=10)
            assert r.status_code == 304 and not r.content and r.headers["ETag"] == etag, (path, inm)
            # The headers the 200 would send (RFC 9110 §15.4.5), Vary among them.
            assert "Accept-Encoding" in r.headers.get("Vary", ""), (path, dict(r.headers))
        r = requests.get(stack.url(path), headers={"If-None-Match": '"999"'}, timeout=10)
        assert r.status_code == 200 and r.json() == first.json()


def test_each_content_coding_has_its_own_strong_etag_and_every_one_names_the_version(stack, ada):
    """RFC 9110 §8.8.3: a strong validator differs across content codings.
    "3" is the identity body's tag, "3-gzip" and "3-br" the coded ones';
    If-None-Match and If-Match read each as version 3."""
    p = prop(stack, ada, description="A long description that makes the body worth compressing. " * 30).json()
    path = f"/api/v1/properties/{p['id']}"
    tags = {}
    for coding in ("identity", "gzip", "br"):
        r = requests.get(stack.url(path), headers={"Accept-Encoding": coding}, timeout=10, stream=True)
        assert r.status_code == 200 and r.headers.get("Content-Encoding", "identity") == coding, dict(r.headers)
        tags[coding] = r.headers["ETag"]
    v = p["version"]
    assert tags == {"identity": f'"{v}"', "gzip": f'"{v}-gzip"', "br": f'"{v}-br"'}
    for coding, tag in tags.items():
        r = requests.get(stack.url(path), headers={"Accept-Encoding": coding, "If-None-Match": tag}, timeout=10)
        assert r.status_code == 304 and r.headers["ETag"] == tag, (coding, r.status_code, dict(r.headers))
    r = send(stack, "PATCH", f"/api/v1/properties/{p['id']}", {"name": "Renamed"}, token=ada["token"],
             headers={"If-Match": tags["gzip"]})
    assert r.status_code == 200 and r.json()["version"] == v + 1, r.text
    r = send(stack, "PATCH", f"/api/v1/properties/{p['id']}", {"name": "Stale"}, token=ada["token"],
             headers={"If-Match": tags["br"]})
    assert r.status_code == 412, r.text
    r = requests.get(stack.url(path), headers={"Accept-Encoding": "gzip", "If-None-Match": tags["gzip"]}, timeout=10)
    assert r.status_code == 200 and r.headers["ETag"] == f'"{v + 1}-gzip"'


def test_users_and_listings_honour_if_match_strongly(stack, db, ada):
    me = requests.get(stack.url(f"/api/v1/users/{ada['id']}"), timeout=10)
    v = me.json()["version"]
    path = f"/api/v1/users/{ada['id']}"
    for stale in [f'W/"{v}"', f'"{v + 1}"']:
        assert_problem(send(stack, "PATCH", path, {"first_name": "Stale"}, token=ada["token"],
                            headers={"If-Match": stale}), 412, code="precondition_failed")
    r = send(stack, "PATCH", path, {"first_name": "Fresh"}, token=ada["token"], headers={"If-Match": f'"{v}"'})
    assert r.status_code == 200 and r.json()["version"] == v + 1 and r.headers["ETag"] == f'"{v + 1}"', r.text
    lst = send(stack, "POST", "/api/v1/listings", {"listing_type": "rent", "price": 900}, token=ada["token"]).json()
    lpath = f"/api/v1/listings/{lst['id']}"
    assert_problem(send(stack, "PATCH", lpath, {"price": 901}, token=ada["token"], headers={"If-Match": 'W/"1"'}),
                   412)
    assert db[stack.prefix + "listings"]["listings"].find_one({"_id": lst["id"]})["price"] == 900
    r = send(stack, "PATCH", lpath, {"price": 901}, token=ada["token"], headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["version"] == 2 and r.headers["ETag"] == '"2"'
    assert_problem(send(stack, "DELETE", lpath, token=ada["token"], headers={"If-Match": '"1"'}), 412)
    assert send(stack, "DELETE", lpath, token=ada["token"], headers={"If-Match": '"2"'}).status_code == 204
