"""Bulk creates: a JSON array POSTed to /api/v1/properties or
/api/v1/listings answers 207 Multi-Status with one result per item, in
order — the created object with its 201 and Location, or the item's 400
problem — stores the valid items only, and creates nothing twice when
retried with the same X-Request-Id; direct nng callers get the same op."""
import uuid

import pytest
import requests

from roost_api import assert_problem, call, person, send, unique


def prop(city, **over):
    body = {"name": "Bulk flat", "type": "apartment", "city": city, "address": "1 Bulk Street",
            "rooms": [{"name": "Main", "kind": "living", "area_m2": 20}]}
    body.update(over)
    return body


def owned(stack, owner_id, city):
    r = requests.get(stack.url(f"/api/v1/properties?owner_id={owner_id}&city={city}&per_page=100"), timeout=10)
    return [p["id"] for p in r.json()["items"]]


def test_a_bulk_create_answers_each_item_in_order_and_stores_the_valid_ones(stack):
    owner, city = person(stack), unique("Bulkton")
    items = [prop(city, name="First"), prop(city, type="castle"), prop(city, name="Third", rooms=[]),
             {"name": "no city"}]
    r = send(stack, "POST", "/api/v1/properties", items, token=owner["token"])
    assert r.status_code == 207 and r.headers["Content-Type"] == "application/json", r.text
    results = r.json()["items"]
    assert [x["status"] for x in results] == [201, 400, 201, 400]
    first, third = results[0], results[2]
    assert first["body"]["name"] == "First" and first["body"]["owner_id"] == owner["id"]
    assert first["location"] == f"/api/v1/properties/{first['body']['id']}"
    assert requests.get(stack.url(first["location"]), timeout=10).json() == first["body"]
    problem = results[1]["problem"]
    assert problem["status"] == 400 and problem["code"] == "validation_failed"
    assert problem["type"] == "urn:roost:problem:validation_failed" and problem["request_id"] == r.headers["X-Request-Id"]
    assert [e["field"] for e in problem["errors"]] == ["type"]
    assert {e["field"] for e in results[3]["problem"]["errors"]} >= {"city", "type", "address"}
    assert sorted(owned(stack, owner["id"], city)) == sorted([first["body"]["id"], third["body"]["id"]])


def test_a_retried_bulk_create_creates_nothing_twice(stack):
    owner, city = person(stack), unique("Retryville")
    rid = uuid.uuid4().hex
    items = [prop(city, name=f"P{i}") for i in range(5)] + [prop(city, type="castle")]
    first = send(stack, "POST", "/api/v1/properties", items, token=owner["token"], headers={"X-Request-Id": rid})
    assert first.status_code == 207, first.text
    again = send(stack, "POST", "/api/v1/properties", items, token=owner["token"], headers={"X-Request-Id": rid})
    assert again.status_code == 207
    strip = [{k: v for k, v in x.items() if k != "problem"} for x in first.json()["items"]]
    assert [{k: v for k, v in x.items() if k != "problem"} for x in again.json()["items"]] == strip
    assert len(owned(stack, owner["id"], city)) == 5
    # Another request id is another request: five more.
    other = send(stack, "POST", "/api/v1/properties", items, token=owner["token"])
    assert [x["status"] for x in other.json()["items"]] == [201] * 5 + [400]
    assert len(owned(stack, owner["id"], city)) == 10


def test_request_ids_that_share_a_long_prefix_are_distinct_bulks(stack):
    """An item's key derives from the whole X-Request-Id (a digest, never a
    cut): two bulks whose 64-character ids share their first 60 are two
    requests, and so is a single create whose id looks like an item's."""
    owner, city = person(stack), unique("Prefixville")
    items = [prop(city, name=f"P{i}") for i in range(3)]
    stem = "x" * 60
    first = send(stack, "POST", "/api/v1/properties", items, token=owner["token"], headers={"X-Request-Id": stem + "aaaa"})
    second = send(stack, "POST", "/api/v1/properties", items, token=owner["token"], headers={"X-Request-Id": stem + "bbbb"})
    assert first.status_code == second.status_code == 207
    ids = lambda r: [x["body"]["id"] for x in r.json()["items"]]
    assert not set(ids(first)) & set(ids(second)), (first.text, second.text)
    assert len(owned(stack, owner["id"], city)) == 6
    # A single create whose request id is "<bulk id>.0" is its own request too.
    short = uuid.uuid4().hex[:20]
    bulk = send(stack, "POST", "/api/v1/properties", items, token=owner["token"], headers={"X-Request-Id": short})
    single = send(stack, "POST", "/api/v1/properties", items[0], token=owner["token"],
                  headers={"X-Request-Id": short + ".0"})
    assert single.status_code == 201 and single.json()["id"] not in ids(bulk), single.text
    assert len(owned(stack, owner["id"], city)) == 10


def test_bulk_listings_follow_the_single_create_rules(stack):
    owner, stranger = person(stack), person(stack)
    mine = send(stack, "POST", "/api/v1/properties", prop(unique("Lcity")), token=owner["token"]).json()
    theirs = send(stack, "POST", "/api/v1/properties", prop(unique("Lcity")), token=stranger["token"]).json()
    items = [{"listing_type": "rent", "price": 900, "property_id": mine["id"]},
             {"listing_type": "sale", "price": 0},
             {"listing_type": "sale", "price": 5000, "property_id": theirs["id"]},
             {"listing_type": "sale", "price": 250000}]
    r = send(stack, "POST", "/api/v1/listings", items, token=owner["token"])
    assert r.status_code == 207, r.text
    results = r.json()["items"]
    single = send(stack, "POST", "/api/v1/listings", items[2], token=owner["token"])
    assert [x["status"] for x in results] == [201, 400, single.status_code, 201]
    assert results[2]["problem"]["code"] == single.json()["code"]
    assert results[0]["body"]["user_id"] == owner["id"] and results[0]["location"].startswith("/api/v1/listings/")
    got = requests.get(stack.url(f"/api/v1/listings?user_id={owner['id']}&per_page=100"), timeout=10).json()
    assert sorted(l["id"] for l in got["items"]) == sorted([results[0]["body"]["id"], results[3]["body"]["id"]])


@pytest.mark.parametrize("body, words", [
    ([], "holds 0 items: a bulk create takes 1 to 100"),
    ([{"listing_type": "rent", "price": 1}] * 101, "holds 101 items: a bulk create takes 1 to 100"),
    ([1, 2], "item 0 is not an object"),
    ([{"listing_type": "rent", "price": 1}, "x"], "item 1 is not an object"),
])
def test_a_bulk_body_that_is_not_1_to_100_objects_is_refused_whole(stack, body, words):
    owner = person(stack)
    r = send(stack, "POST", "/api/v1/listings", body, token=owner["token"])
    p = assert_problem(r, 400, field="items", code="validation_failed")
    assert words in " ".join(e["message"] for e in p["errors"])
    got = requests.get(stack.url(f"/api/v1/listings?user_id={owner['id']}"), timeout=10).json()
    assert got["total"] == 0


def test_a_bulk_create_needs_a_token_and_well_formed_json(stack):
    assert_problem(send(stack, "POST", "/api/v1/properties", [prop("X")]), 401, code="unauthorized")
    owner = person(stack)
    r = send(stack, "POST", "/api/v1/properties", raw="[{\"name\": ", token=owner["token"])
    assert_problem(r, 400, code="malformed_json")
    # An array where a route takes none stays a 400.
    r = send(stack, "POST", "/api/v1/places", [{"name": "x"}], token=owner["token"])
    assert_problem(r, 400, code="malformed_json")


def test_direct_nng_callers_get_the_same_op(stack):
    owner, city = person(stack), unique("Nngville")
    request = {"body": {"items": [prop(city, name="A"), prop(city, rooms="none")]}, "auth": {"sub": owner["id"]}}
    code, reply = call(stack, "properties.create_many", request)
    assert code == 0 and reply["status"] == 207
    results = reply["body"]["items"]
    assert results[0]["status"] == 201 and results[0]["body"]["name"] == "A"
    assert results[1]["status"] == 400 and results[1]["error"]["code"] == "validation_failed"
    code, reply = call(stack, "properties.create_many", {"body": {"items": []}, "auth": {"sub": owner["id"]}})
    assert code == 1 and reply["status"] == 400
    code, reply = call(stack, "listings.create_many", {"body": {"items": [{"listing_type": "rent", "price": 5}]}})
    assert code == 1 and reply["status"] == 401
