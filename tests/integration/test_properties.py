"""Properties with rooms, end to end over HTTP and over nng: owner-only edits
enforced in the worker, refusals that change nothing, injection attempts,
If-Match, filters, cities, tombstones and idempotency per request id.

The stack is shared with other test files: every test makes its own
properties, with users of its own, and counts only what it made (owner_id,
a fresh city name)."""
import copy
import json
import time

import pytest
import requests

from roost_api import assert_problem, call, create_user, person, send, token_for, unique


def props_coll(stack, db):
    return db[stack.prefix + "properties"]["properties"]


def doc_of(stack, db, pid):
    return props_coll(stack, db).find_one({"_id": pid})


@pytest.fixture(scope="module")
def alice(stack):
    return person(stack)


@pytest.fixture(scope="module")
def bob(stack):
    return person(stack)


def prop_body(**over):
    body = {
        "name": "Sunny flat",
        "description": "Two rooms near the park",
        "type": "apartment",
        "city": "Paris",
        "address": "1 rue de Rivoli",
        "rooms": [
            {"name": "Kitchen", "kind": "kitchen", "area_m2": 9.5, "characteristics": {"floor": 2, "view": "yard"}},
            {"name": "Bedroom", "kind": "bedroom", "area_m2": 14, "characteristics": {"window": True}},
        ],
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def create(stack, owner, **over):
    r = send(stack, "POST", "/api/v1/properties", prop_body(**over), token=owner["token"])
    assert r.status_code == 201, r.text
    return r.json()


def path(pid, room=None):
    return f"/api/v1/properties/{pid}" + (f"/rooms/{room}" if room is not None else "")


def listing(stack, query):
    return requests.get(stack.url("/api/v1/properties?" + query), timeout=10)


def ids_of(r):
    assert r.status_code == 200, r.text
    return [p["id"] for p in r.json()["items"]]


def owned_count(stack, db, owner):
    return props_coll(stack, db).count_documents({"owner_id": owner["id"]})


def etag(r):
    return r.headers.get("ETag")


# Each change a client can ask for: (method, path, body).
def changes(pid):
    return [
        ("PATCH", path(pid), {"name": "Taken over"}),
        ("DELETE", path(pid), None),
        ("POST", path(pid) + "/rooms", {"name": "Annex", "kind": "office", "area_m2": 5}),
        ("PATCH", path(pid, 1), {"name": "Renamed room", "characteristics": {"floor": None}}),
        ("DELETE", path(pid, 1), None),
    ]


# =====================================================================================
# Refusals: authentication and ownership
# =====================================================================================

def test_create_without_token_is_401_and_writes_nothing(stack, db, alice):
    city = unique("City")
    r = send(stack, "POST", "/api/v1/properties", prop_body(city=city))
    assert_problem(r, 401, code="unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(send(stack, "POST", "/api/v1/properties", prop_body(city=city), token="x.y.z"), 401)
    assert props_coll(stack, db).count_documents({"city": city}) == 0


def test_changes_without_token_are_401_and_change_nothing(stack, db, alice):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    for method, url, body in changes(p["id"]):
        assert_problem(send(stack, method, url, body), 401)
    assert doc_of(stack, db, p["id"]) == before


def test_another_user_gets_403_for_every_change_and_nothing_changes(stack, db, alice, bob):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    for method, url, body in changes(p["id"]):
        r = send(stack, method, url, body, token=bob["token"])
        assert_problem(r, 403, code="forbidden")
        # Even naming the current version does not help.
        assert_problem(send(stack, method, url, body, token=bob["token"], headers={"If-Match": '"1"'}), 403)
    after = doc_of(stack, db, p["id"])
    assert after == before
    assert after["version"] == 1 and after["owner_id"] == alice["id"] and "deleted_at" not in after
    got = requests.get(stack.url(path(p["id"])), timeout=10)
    assert got.status_code == 200 and got.json() == p


def test_another_user_cannot_edit_by_replaying_the_owners_request_id(stack, db, alice, bob):
    p = create(stack, alice)
    rid = "owner-change-" + unique()
    r = send(stack, "PATCH", path(p["id"]), {"name": "Owner's name"}, token=alice["token"],
             headers={"X-Request-Id": rid})
    assert r.status_code == 200
    before = doc_of(stack, db, p["id"])
    # The rid of the owner's last change makes a request look like a repeat of it; it is still bob's.
    for method, url, body in changes(p["id"]):
        assert_problem(send(stack, method, url, body, token=bob["token"], headers={"X-Request-Id": rid}), 403)
    assert doc_of(stack, db, p["id"]) == before


def test_another_user_replaying_a_create_request_id_does_not_get_the_owners_property(stack, db, alice, bob):
    rid = "owner-create-" + unique()
    r = send(stack, "POST", "/api/v1/properties", prop_body(name="Alice's"), token=alice["token"],
             headers={"X-Request-Id": rid})
    assert r.status_code == 201
    mine = r.json()
    before = doc_of(stack, db, mine["id"])
    r = send(stack, "POST", "/api/v1/properties", prop_body(name="Bob's"), token=bob["token"],
             headers={"X-Request-Id": rid})
    # Whatever the answer, it is not a 201 that hands bob alice's property as his creation.
    assert not (r.status_code == 201 and r.json()["owner_id"] != bob["id"]), r.text
    assert doc_of(stack, db, mine["id"]) == before


def test_direct_caller_without_auth_is_401_and_with_another_sub_is_403(stack, db, alice, bob):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    ops = [
        ("properties.update", {"id": p["id"]}, {"name": "Direct"}),
        ("properties.delete", {"id": p["id"]}, None),
        ("properties.rooms.add", {"id": p["id"]}, {"name": "Annex", "kind": "office", "area_m2": 5}),
        ("properties.rooms.update", {"id": p["id"], "room_id": 1}, {"name": "Direct room"}),
        ("properties.rooms.delete", {"id": p["id"], "room_id": 1}, None),
    ]
    for op, params, body in ops:
        request = {"params": params} | ({"body": body} if body is not None else {})
        code, reply = call(stack, op, request)
        assert code == 1 and reply["status"] == 401 and reply["error"]["code"] == "unauthorized", (op, reply)
        code, reply = call(stack, op, request | {"auth": {}})
        assert code == 1 and reply["status"] == 401, (op, reply)
        code, reply = call(stack, op, request | {"auth": {"sub": bob["id"]}})
        assert code == 1 and reply["status"] == 403 and reply["error"]["code"] == "forbidden", (op, reply)
    assert doc_of(stack, db, p["id"]) == before

    city = unique("Direct")
    code, reply = call(stack, "properties.create", {"body": prop_body(city=city)})
    assert code == 1 and reply["status"] == 401
    # A sub that is not a positive id is refused with the envelope.
    r = stack.roostctl("call", "properties.create", json.dumps({"auth": {"sub": 0}, "body": prop_body(city=city)}))
    assert r.returncode != 0
    assert props_coll(stack, db).count_documents({"city": city}) == 0


# =====================================================================================
# Refusals: not found, bad ids
# =====================================================================================

def test_missing_property_is_404_for_reads_and_changes(stack, alice):
    missing = 999_999_999
    assert_problem(requests.get(stack.url(path(missing)), timeout=10), 404, code="not_found")
    for method, url, body in changes(missing):
        assert_problem(send(stack, method, url, body, token=alice["token"]), 404, code="not_found")


def test_missing_room_is_404_and_changes_nothing(stack, db, alice):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    for room in (3, 99, 999_999_999):
        assert_problem(send(stack, "PATCH", path(p["id"], room), {"name": "Ghost"}, token=alice["token"]), 404,
                       code="room_not_found")
        assert_problem(send(stack, "DELETE", path(p["id"], room), token=alice["token"]), 404, code="room_not_found")
    assert doc_of(stack, db, p["id"]) == before


@pytest.mark.parametrize("bad", ["0", "-1", "abc", "1.5", "99999999999999999999999"])
def test_bad_ids_are_400(stack, db, alice, bad):
    assert_problem(requests.get(stack.url(path(bad)), timeout=10), 400, field="id")
    assert_problem(send(stack, "PATCH", path(bad), {"name": "x"}, token=alice["token"]), 400, field="id")
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    assert_problem(send(stack, "PATCH", path(p["id"], bad), {"name": "x"}, token=alice["token"]), 400,
                   field="room_id")
    assert_problem(send(stack, "DELETE", path(p["id"], bad), token=alice["token"]), 400, field="room_id")
    assert doc_of(stack, db, p["id"]) == before


# =====================================================================================
# Refusals: validation and injection in bodies and queries
# =====================================================================================

@pytest.mark.parametrize("override,field", [
    ({"city": {"$ne": None}}, "city"),
    ({"owner_id": {"$gt": 0}}, "owner_id"),
    ({"owner_id": 1}, "owner_id"),
    ({"version": 7}, "version"),
    ({"_id": 1}, "_id"),
    ({"deleted_at": None}, "deleted_at"),
    ({"name": {"$regex": ".*"}}, "name"),
    ({"$where": "sleep(1000)"}, "$where"),
    ({"type": {"$in": ["house"]}}, "type"),
    ({"type": "castle"}, "type"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"city": ""}, "city"),
    ({"address": None}, "address"),
    ({"description": "x" * 5001}, "description"),
    ({"rooms": {"$where": "1"}}, "rooms"),
    ({"rooms": [{"$where": "this.owner_id > 0", "name": "K", "kind": "kitchen", "area_m2": 5}]}, "rooms[0].$where"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"$x": 1}}]},
     "rooms[0].characteristics.$x"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"a.b": 1}}]},
     "rooms[0].characteristics.a.b"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"n": {"k": 1}}}]},
     "rooms[0].characteristics.n"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"n": [1]}}]},
     "rooms[0].characteristics.n"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"n": None}}]},
     "rooms[0].characteristics.n"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": "pool"}]},
     "rooms[0].characteristics"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "characteristics": {"x": "y" * 201}}]},
     "rooms[0].characteristics.x"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5,
                 "characteristics": {f"c{i}": i for i in range(51)}}]}, "rooms[0].characteristics"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 5, "id": 7}]}, "rooms[0].id"),
    ({"rooms": [{"name": "K", "kind": "dungeon", "area_m2": 5}]}, "rooms[0].kind"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 0}]}, "rooms[0].area_m2"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 100001}]}, "rooms[0].area_m2"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": "5"}]}, "rooms[0].area_m2"),
    ({"rooms": [{"name": "K", "kind": "kitchen"}]}, "rooms[0].area_m2"),
    ({"rooms": ["kitchen"]}, "rooms[0]"),
    ({"rooms": [{"name": "K", "kind": "kitchen", "area_m2": 1}] * 101}, "rooms"),
])
def test_create_with_bad_or_injected_field_is_400_and_writes_nothing(stack, db, alice, override, field):
    name = unique("Inject")
    body = prop_body(name=name)
    body.update(override)
    before = owned_count(stack, db, alice)
    r = send(stack, "POST", "/api/v1/properties", body, token=alice["token"])
    assert_problem(r, 400, field=field, code="validation_failed")
    assert owned_count(stack, db, alice) == before
    assert props_coll(stack, db).count_documents({"name": name}) == 0


def test_create_missing_required_fields_lists_each(stack, alice):
    p = assert_problem(send(stack, "POST", "/api/v1/properties", {}, token=alice["token"]), 400)
    assert {e["field"] for e in p["errors"]} == {"name", "type", "city", "address"}


def test_create_with_repeated_key_is_400(stack, db, alice):
    city = unique("Twice")
    raw = json.dumps(prop_body(city=city))[:-1] + ', "city": "Elsewhere"}'
    assert_problem(send(stack, "POST", "/api/v1/properties", raw=raw.encode(), token=alice["token"]), 400,
                   field="city")
    assert props_coll(stack, db).count_documents({"city": city}) == 0


@pytest.mark.parametrize("body,field", [
    ({"city": {"$ne": None}}, "city"),
    ({"owner_id": 2}, "owner_id"),
    ({"owner_id": {"$gt": 0}}, "owner_id"),
    ({"version": 1}, "version"),
    ({"rooms": []}, "rooms"),
    ({"room_count": 0}, "room_count"),
    ({"deleted_at": 1}, "deleted_at"),
    ({"$set": {"owner_id": 2}}, "$set"),
    ({"name": {"$regex": ".*"}}, "name"),
    ({"name": None}, "name"),
    ({"type": None}, "type"),
    ({"type": "castle"}, "type"),
    ({"city": None}, "city"),
    ({"name": "Fine", "address": ""}, "address"),
])
def test_patch_with_bad_or_injected_field_is_400_and_changes_nothing(stack, db, alice, body, field):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    assert_problem(send(stack, "PATCH", path(p["id"]), body, token=alice["token"]), 400, field=field)
    assert doc_of(stack, db, p["id"]) == before


@pytest.mark.parametrize("body,field", [
    ({"$where": "1", "name": "Annex", "kind": "office", "area_m2": 5}, "$where"),
    ({"name": "Annex", "kind": "office", "area_m2": 5, "characteristics": {"$gt": 1}}, "characteristics.$gt"),
    ({"name": "Annex", "kind": "office", "area_m2": 5, "characteristics": {"a.b": 1}}, "characteristics.a.b"),
    ({"name": "Annex", "kind": "office", "area_m2": 5, "characteristics": {"deep": {"$ne": 1}}},
     "characteristics.deep"),
    ({"name": "Annex", "kind": "office", "area_m2": 5, "id": 1}, "id"),
    ({"name": "Annex", "kind": "office"}, "area_m2"),
    ({"name": {"$ne": None}, "kind": "office", "area_m2": 5}, "name"),
])
def test_room_add_with_bad_or_injected_field_is_400_and_changes_nothing(stack, db, alice, body, field):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    assert_problem(send(stack, "POST", path(p["id"]) + "/rooms", body, token=alice["token"]), 400, field=field)
    assert doc_of(stack, db, p["id"]) == before


@pytest.mark.parametrize("body,field", [
    ({"$where": "1"}, "$where"),
    ({"characteristics": {"$x": 1}}, "characteristics.$x"),
    ({"characteristics": {"a.b": 1}}, "characteristics.a.b"),
    ({"characteristics": {"nested": {"k": "v"}}}, "characteristics.nested"),
    ({"characteristics": [1, 2]}, "characteristics"),
    ({"kind": "dungeon"}, "kind"),
    ({"area_m2": -1}, "area_m2"),
    ({"name": None}, "name"),
    ({"id": 5}, "id"),
])
def test_room_patch_with_bad_or_injected_field_is_400_and_changes_nothing(stack, db, alice, body, field):
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    assert_problem(send(stack, "PATCH", path(p["id"], 1), body, token=alice["token"]), 400, field=field)
    assert doc_of(stack, db, p["id"]) == before


@pytest.mark.parametrize("query", [
    "city[$ne]=x", "city%5B%24ne%5D=x", "owner_id[$gt]=0", "$where=1", "name=x", "rooms.kind=kitchen", "search=paris",
])
def test_unknown_query_parameter_is_400(stack, query):
    assert_problem(listing(stack, query), 400)


@pytest.mark.parametrize("query,field", [
    ("owner_id=%7B%22%24gt%22%3A0%7D", "owner_id"),
    ("owner_id=0", "owner_id"),
    ("owner_id=x", "owner_id"),
    ("type=castle", "type"),
    ("type=%7B%22%24ne%22%3Anull%7D", "type"),
    ("city=", "city"),
    ("city=" + "x" * 101, "city"),
    ("min_rooms=-1", "min_rooms"),
    ("min_rooms=101", "min_rooms"),
    ("max_rooms=101", "max_rooms"),
    ("min_rooms=%7B%7D", "min_rooms"),
    ("min_rooms=3&max_rooms=2", "min_rooms"),
    ("order_by=price", "order_by"),
    ("order_by=%24natural", "order_by"),
    ("order_by=owner_id", "order_by"),
    ("order_by=-", "order_by"),
    ("per_page=101", "per_page"),
    ("per_page=0", "per_page"),
    ("page=0", "page"),
])
def test_bad_list_parameter_is_400(stack, query, field):
    assert_problem(listing(stack, query), 400, field=field)


def test_a_citys_spelling_is_chosen_by_a_rule_not_by_order(stack, alice):
    """Equally common spellings of one city: the first in byte order names
    it, whatever order the database groups them in."""
    base = unique("Tiecity")
    spellings = [base.lower(), base.upper(), base.capitalize()]  # one property each: a tie
    for spelling in spellings:
        r = send(stack, "POST", "/api/v1/properties", prop_body(city=spelling), token=alice["token"])
        assert r.status_code == 201, r.text
    for _ in range(3):
        items = requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"]
        mine = [c for c in items if c["city"].lower() == base.lower()]
        assert mine == [{"city": min(spellings), "count": 3}], mine
    # One more of a spelling makes it the most common.
    send(stack, "POST", "/api/v1/properties", prop_body(city=base.lower()), token=alice["token"])
    items = requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"]
    assert {"city": base.lower(), "count": 4} in items


def test_cities_take_no_parameters(stack):
    assert_problem(requests.get(stack.url("/api/v1/cities?city[$ne]=x"), timeout=10), 400)


# =====================================================================================
# Refusals: If-Match
# =====================================================================================

@pytest.mark.parametrize("tag,status,code", [
    *[(stale, 412, "precondition_failed") for stale in ['"0"', '"2"', 'W/"2"', '"11"', '"one"', 'W/"1"', 'W/"1", "2"']],
    *[(bad, 400, "bad_precondition") for bad in ['"1 "', "1", 'w/"1"', '"1" "1"', '*, "1"', '"1', ","]],
])
def test_stale_or_malformed_if_match_changes_nothing(stack, db, alice, tag, status, code):
    """RFC 9110 §13.1.1: If-Match compares strongly, so W/"1" does not match
    version 1 (412); a field that is not entity-tag syntax is a 400."""
    p = create(stack, alice)
    before = doc_of(stack, db, p["id"])
    for method, url, body in changes(p["id"]):
        r = send(stack, method, url, body, token=alice["token"], headers={"If-Match": tag})
        assert_problem(r, status, code=code)
    assert doc_of(stack, db, p["id"]) == before


def test_if_match_of_an_old_version_after_a_change_is_412(stack, db, alice):
    p = create(stack, alice)
    r = send(stack, "PATCH", path(p["id"]), {"name": "Second"}, token=alice["token"], headers={"If-Match": '"1"'})
    assert r.status_code == 200 and etag(r) == '"2"'
    before = doc_of(stack, db, p["id"])
    # A second writer still holding version 1 loses instead of overwriting.
    assert_problem(send(stack, "PATCH", path(p["id"]), {"name": "Lost update"}, token=alice["token"],
                        headers={"If-Match": '"1"'}), 412)
    assert doc_of(stack, db, p["id"]) == before and before["name"] == "Second"


# =====================================================================================
# What works: create, read, If-Match, the owner's changes, delete
# =====================================================================================

def test_create_with_rooms_and_read_back(stack, db, alice):
    before = int(time.time() * 1e6)
    r = send(stack, "POST", "/api/v1/properties", prop_body(), token=alice["token"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert r.headers["Location"] == f"/api/v1/properties/{p['id']}"
    assert etag(r) == '"1"'
    assert p["owner_id"] == alice["id"] and p["version"] == 1
    assert p["name"] == "Sunny flat" and p["type"] == "apartment" and p["city"] == "Paris"
    assert p["description"] == "Two rooms near the park" and p["address"] == "1 rue de Rivoli"
    assert [room["id"] for room in p["rooms"]] == [1, 2] and p["room_count"] == 2
    assert p["rooms"][0] == {"id": 1, "name": "Kitchen", "kind": "kitchen", "area_m2": 9.5,
                             "characteristics": {"floor": 2, "view": "yard"}}
    assert p["rooms"][1]["area_m2"] == 14 and p["rooms"][1]["characteristics"] == {"window": True}
    assert p["created_at"] == p["updated_at"] and p["created_at"] >= before - 5_000_000
    assert p["living_area_m2"] == 23.5  # the rooms' areas, summed
    assert set(p) == {"id", "name", "description", "type", "city", "address", "rooms", "room_count",
                      "living_area_m2", "bedrooms", "bathrooms", "location", "photos", "cover_url", "photos_count",
                      "owner_id", "version", "created_at", "updated_at"}
    assert (p["photos"], p["cover_url"], p["photos_count"]) == ([], None, 0)
    assert (p["bedrooms"], p["bathrooms"], p["location"]) == (1, 0, None)  # a kitchen and a bedroom

    got = requests.get(stack.url(path(p["id"])), timeout=10)
    assert got.status_code == 200 and got.json() == p and etag(got) == '"1"'

    doc = doc_of(stack, db, p["id"])
    assert doc["owner_id"] == alice["id"] and doc["city_key"] == "paris" and doc["next_room_id"] == 3
    assert doc["version"] == 1 and "deleted_at" not in doc


def test_create_without_rooms_or_description(stack, alice):
    p = create(stack, alice, rooms=None, description=None)
    assert p["rooms"] == [] and p["room_count"] == 0 and p["description"] == "" and p["living_area_m2"] == 0
    # The first room added gets id 1.
    r = send(stack, "POST", path(p["id"]) + "/rooms", {"name": "Hall", "kind": "other", "area_m2": 3},
             token=alice["token"])
    assert r.status_code == 201 and [room["id"] for room in r.json()["rooms"]] == [1]


def test_owner_cannot_set_someone_else_as_owner_on_create(stack, db, alice, bob):
    p = create(stack, alice)
    assert p["owner_id"] == alice["id"]
    assert_problem(send(stack, "POST", "/api/v1/properties", prop_body(owner_id=bob["id"]), token=alice["token"]),
                   400, field="owner_id")


@pytest.mark.parametrize("tag", ['"{v}"', "*", '"99", "{v}"', 'W/"{v}", "{v}"', ', "{v}" ,'])
def test_matching_if_match_succeeds_and_the_etag_advances(stack, db, alice, tag):
    p = create(stack, alice)
    version = 1
    for method, url, body, status in [("PATCH", path(p["id"]), {"name": "Matched"}, 200),
                                      ("POST", path(p["id"]) + "/rooms",
                                       {"name": "Annex", "kind": "office", "area_m2": 5}, 201),
                                      ("PATCH", path(p["id"], 3), {"area_m2": 6}, 200),
                                      ("DELETE", path(p["id"], 2), None, 200)]:
        r = send(stack, method, url, body, token=alice["token"], headers={"If-Match": tag.format(v=version)})
        assert r.status_code == status, (method, url, r.text)
        version += 1
        assert r.json()["version"] == version and etag(r) == f'"{version}"'
        assert doc_of(stack, db, p["id"])["version"] == version
    r = send(stack, "DELETE", path(p["id"]), token=alice["token"], headers={"If-Match": tag.format(v=version)})
    assert r.status_code == 204
    assert doc_of(stack, db, p["id"])["deleted_at"] > 0


def test_owner_life_of_a_property(stack, db, alice):
    p = create(stack, alice, city="Lisbon")
    pid = p["id"]

    # Rename: version 2, updated_at grows, the rest as it was.
    r = send(stack, "PATCH", path(pid), {"name": "Renamed"}, token=alice["token"])
    assert r.status_code == 200 and etag(r) == '"2"'
    v2 = r.json()
    assert v2["name"] == "Renamed" and v2["version"] == 2
    assert v2["updated_at"] > p["updated_at"] and v2["created_at"] == p["created_at"]
    assert {k: v for k, v in v2.items() if k not in ("name", "version", "updated_at")} == \
           {k: v for k, v in p.items() if k not in ("name", "version", "updated_at")}
    assert requests.get(stack.url(path(pid)), timeout=10).json() == v2

    # Merge-patch of several fields; a null description empties it; the city key follows the city.
    city = unique("Porto")
    r = send(stack, "PATCH", path(pid), {"description": None, "city": city, "type": "house"}, token=alice["token"])
    assert r.status_code == 200
    v3 = r.json()
    assert v3["description"] == "" and v3["city"] == city and v3["type"] == "house" and v3["version"] == 3
    assert v3["name"] == "Renamed" and v3["address"] == p["address"]
    assert doc_of(stack, db, pid)["city_key"] == city.lower()
    assert ids_of(listing(stack, f"city={city.lower()}")) == [pid]

    # Add a room: the next id, last in the list.
    r = send(stack, "POST", path(pid) + "/rooms",
             {"name": "Study", "kind": "office", "area_m2": 7.25, "characteristics": {"desk": True}},
             token=alice["token"])
    assert r.status_code == 201 and etag(r) == '"4"'
    v4 = r.json()
    assert [room["id"] for room in v4["rooms"]] == [1, 2, 3] and v4["room_count"] == 3
    assert v4["living_area_m2"] == v3["living_area_m2"] + 7.25  # follows every change of the rooms
    assert v4["rooms"][-1] == {"id": 3, "name": "Study", "kind": "office", "area_m2": 7.25,
                               "characteristics": {"desk": True}}

    # Patch a room: fields and characteristics merge; null removes a characteristic.
    r = send(stack, "PATCH", path(pid, 1), {"name": "Big kitchen", "characteristics": {"view": None,
                                                                                      "island": True,
                                                                                      "floor": 3}},
             token=alice["token"])
    assert r.status_code == 200 and etag(r) == '"5"'
    v5 = r.json()
    kitchen = v5["rooms"][0]
    assert kitchen == {"id": 1, "name": "Big kitchen", "kind": "kitchen", "area_m2": 9.5,
                       "characteristics": {"floor": 3, "island": True}}
    assert v5["rooms"][1:] == v4["rooms"][1:]
    r = send(stack, "PATCH", path(pid, 3), {"area_m2": 8.25}, token=alice["token"])
    assert r.status_code == 200 and r.json()["living_area_m2"] == v4["living_area_m2"] + 1
    r = send(stack, "PATCH", path(pid, 3), {"area_m2": 7.25}, token=alice["token"])
    assert r.status_code == 200 and r.json()["living_area_m2"] == v4["living_area_m2"]
    # Removing a characteristic that is not there is fine.
    r = send(stack, "PATCH", path(pid, 1), {"characteristics": {"ghost": None}}, token=alice["token"])
    assert r.status_code == 200 and r.json()["rooms"][0]["characteristics"] == {"floor": 3, "island": True}

    # Delete a room; ids are never reused.
    r = send(stack, "DELETE", path(pid, 3), token=alice["token"])
    assert r.status_code == 200
    v7 = r.json()
    assert [room["id"] for room in v7["rooms"]] == [1, 2] and v7["room_count"] == 2
    assert v7["living_area_m2"] == v4["living_area_m2"] - 7.25
    assert_problem(send(stack, "DELETE", path(pid, 3), token=alice["token"]), 404, code="room_not_found")
    r = send(stack, "POST", path(pid) + "/rooms", {"name": "Nook", "kind": "storage", "area_m2": 2},
             token=alice["token"])
    assert [room["id"] for room in r.json()["rooms"]] == [1, 2, 4] and r.json()["room_count"] == 3

    # Delete the property: 204, then gone from every read, a tombstone in the database.
    cities_before = requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"]
    assert {"city": city, "count": 1} in cities_before
    r = send(stack, "DELETE", path(pid), token=alice["token"])
    assert r.status_code == 204 and r.content == b""
    assert_problem(requests.get(stack.url(path(pid)), timeout=10), 404, code="not_found")
    doc = doc_of(stack, db, pid)
    assert doc is not None and doc["deleted_at"] > 0 and doc["name"] == "Renamed"
    assert ids_of(listing(stack, f"city={city}")) == []
    assert pid not in ids_of(listing(stack, f"owner_id={alice['id']}&per_page=100"))
    assert all(c["city"].lower() != city.lower()
               for c in requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"])
    # Every change to a deleted property is a 404, and leaves the tombstone alone.
    for method, url, body in changes(pid):
        assert_problem(send(stack, method, url, body, token=alice["token"]), 404)
    assert doc_of(stack, db, pid) == doc


# =====================================================================================
# Lists and cities
# =====================================================================================

@pytest.fixture(scope="module")
def catalog(stack):
    """Five properties of one fresh owner in two fresh cities, the first three in case variants."""
    owner = person(stack)
    paris, lyon = unique("Paris"), unique("Lyon")
    spec = [
        ("Delta", paris, "house", 0),
        ("Alpha", paris, "apartment", 2),
        ("Charlie", paris.upper(), "house", 1),
        ("Bravo", lyon, "studio", 3),
        ("Echo", lyon, "villa", 1),
    ]
    room = {"name": "Room", "kind": "bedroom", "area_m2": 10}
    props = [create(stack, owner, name=name, city=city, type=kind, rooms=[room] * n)
             for name, city, kind, n in spec]
    # The first one changed last: it has the latest updated_at.
    r = send(stack, "PATCH", path(props[0]["id"]), {"description": "touched"}, token=owner["token"])
    assert r.status_code == 200
    props[0] = r.json()
    return owner, paris, lyon, props


def test_list_by_city_is_case_insensitive_and_exact(stack, catalog):
    owner, paris, lyon, props = catalog
    in_paris = sorted(p["id"] for p in props[:3])
    for term in (paris, paris.lower(), paris.upper()):
        r = listing(stack, f"city={term}")
        assert ids_of(r) == in_paris and r.json()["total"] == 3, term
    assert ids_of(listing(stack, f"city={lyon.lower()}")) == sorted(p["id"] for p in props[3:])
    # Exact, not a prefix nor a substring nor a pattern.
    for term in (paris[:-1], paris[1:], paris[:8], paris + "x", paris[:-1] + ".", ".*", "%5E" + paris[:4]):
        assert listing(stack, f"city={term}").json()["total"] == 0, term


def test_list_by_city_paris_example(stack, alice):
    p = create(stack, alice, city="Paris")
    r = listing(stack, "city=paris&per_page=100&order_by=-id")
    assert p["id"] in ids_of(r) and all(x["city"].lower() == "paris" for x in r.json()["items"])
    assert p["id"] in ids_of(listing(stack, "city=PARIS&per_page=100&order_by=-id"))
    # Not a prefix match: nobody made a property in "Par".
    assert listing(stack, "city=Par").json()["total"] == 0
    assert listing(stack, "city=par").json()["total"] == 0


def test_list_by_type_and_owner(stack, catalog, alice):
    owner, paris, lyon, props = catalog
    assert ids_of(listing(stack, f"city={paris}&type=house")) == sorted([props[0]["id"], props[2]["id"]])
    assert ids_of(listing(stack, f"city={paris}&type=villa")) == []
    assert ids_of(listing(stack, f"owner_id={owner['id']}&type=villa")) == [props[4]["id"]]
    r = listing(stack, f"owner_id={owner['id']}")
    assert ids_of(r) == sorted(p["id"] for p in props) and r.json()["total"] == 5
    assert all(p["owner_id"] == owner["id"] for p in r.json()["items"])
    assert owner["id"] not in [p["owner_id"] for p in listing(stack, f"owner_id={alice['id']}&per_page=100")
                               .json()["items"]]
    assert listing(stack, "owner_id=999999999").json()["total"] == 0


def test_list_by_room_count(stack, catalog):
    owner, _, _, props = catalog
    q = f"owner_id={owner['id']}"

    def having(lo, hi):
        return sorted(p["id"] for p in props if lo <= p["room_count"] <= hi)

    assert ids_of(listing(stack, q + "&min_rooms=1&max_rooms=2")) == having(1, 2)
    assert ids_of(listing(stack, q + "&min_rooms=3")) == having(3, 100)
    assert ids_of(listing(stack, q + "&max_rooms=0")) == having(0, 0) == [props[0]["id"]]
    assert ids_of(listing(stack, q + "&min_rooms=1&max_rooms=1")) == having(1, 1)
    assert ids_of(listing(stack, q + "&min_rooms=2&max_rooms=2")) == having(2, 2)
    assert ids_of(listing(stack, q + "&min_rooms=0&max_rooms=100")) == having(0, 100)
    assert ids_of(listing(stack, q + "&min_rooms=4")) == []


def test_list_order_by(stack, catalog):
    owner, _, _, props = catalog
    q = f"owner_id={owner['id']}&per_page=100"
    cases = {
        "id": lambda p: p["id"],
        "name": lambda p: (p["name"], p["id"]),
        "city": lambda p: (p["city"].lower(), p["id"]),
        "created_at": lambda p: (p["created_at"], p["id"]),
        "updated_at": lambda p: (p["updated_at"], p["id"]),
        "room_count": lambda p: (p["room_count"], p["id"]),
    }
    for order, key in cases.items():
        expected = [p["id"] for p in sorted(props, key=key)]
        assert ids_of(listing(stack, f"{q}&order_by={order}")) == expected, order
        got = listing(stack, f"{q}&order_by=-{order}").json()["items"]
        primary = [key(p)[0] if isinstance(key(p), tuple) else key(p) for p in got]
        assert primary == sorted(primary, reverse=True), order
    assert ids_of(listing(stack, f"{q}&order_by=-updated_at"))[0] == props[0]["id"]
    assert ids_of(listing(stack, f"{q}&order_by=-id")) == sorted((p["id"] for p in props), reverse=True)


def test_list_pages(stack, catalog):
    owner, _, _, props = catalog
    ids = sorted(p["id"] for p in props)
    q = f"owner_id={owner['id']}&per_page=2"
    first = listing(stack, q)
    assert ids_of(first) == ids[:2] and first.json()["total"] == 5 and first.json()["page"] == 1
    rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(first.headers["Link"])}
    assert set(rels) == {"first", "next", "last"}
    assert rels["last"] == f"/api/v1/properties?owner_id={owner['id']}&page=3&per_page=2"
    assert ids_of(listing(stack, q + "&page=2")) == ids[2:4]
    last = listing(stack, q + "&page=3")
    assert ids_of(last) == ids[4:]
    assert {l["rel"] for l in requests.utils.parse_header_links(last.headers["Link"])} == {"first", "prev", "last"}
    past = listing(stack, q + "&page=4")
    assert past.status_code == 200 and past.json()["items"] == [] and past.json()["total"] == 5
    assert listing(stack, f"owner_id={owner['id']}&per_page=100").json()["per_page"] == 100
    assert listing(stack, f"owner_id={owner['id']}").json()["per_page"] == 10


def test_cities_fold_case_variants_and_count(stack, db, catalog):
    owner, paris, lyon, props = catalog
    items = requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"]
    mine = [c for c in items if c["city"].lower() in (paris.lower(), lyon.lower())]
    # One entry per city whatever the case, named in its most common spelling.
    assert mine == [{"city": paris, "count": 3}, {"city": lyon, "count": 2}]
    counts = [c["count"] for c in items]
    assert counts == sorted(counts, reverse=True)
    # Every count agrees with the database's live properties.
    live = props_coll(stack, db).count_documents({"city_key": paris.lower(), "deleted_at": {"$exists": False}})
    assert live == 3


def test_cities_forget_deleted_properties(stack, alice):
    city = unique("Ghost")
    a, b = create(stack, alice, city=city), create(stack, alice, city=city.lower())

    def entry():
        return [c for c in requests.get(stack.url("/api/v1/cities"), timeout=10).json()["items"]
                if c["city"].lower() == city.lower()]

    assert len(entry()) == 1 and entry()[0]["count"] == 2
    assert send(stack, "DELETE", path(a["id"]), token=alice["token"]).status_code == 204
    assert entry() == [{"city": city.lower(), "count": 1}]
    assert send(stack, "DELETE", path(b["id"]), token=alice["token"]).status_code == 204
    assert entry() == []


# =====================================================================================
# Over nng, and idempotency per request id
# =====================================================================================

def test_whole_life_over_nng(stack, db, alice, bob):
    city = unique("Nng")
    code, reply = call(stack, "properties.create", {"auth": {"sub": alice["id"]}, "body": prop_body(city=city)})
    assert code == 0 and reply["status"] == 201, reply
    p = reply["body"]
    pid = p["id"]
    assert p["owner_id"] == alice["id"] and p["version"] == 1 and [r["id"] for r in p["rooms"]] == [1, 2]
    doc = doc_of(stack, db, pid)
    assert doc["rid"].startswith(reply["rid"] + ":") and doc["last_rid"].startswith(reply["rid"] + ":")

    code, reply = call(stack, "properties.get", {"params": {"id": str(pid)}})
    assert code == 0 and reply["body"] == p

    # Same validation as HTTP.
    code, reply = call(stack, "properties.update", {"auth": {"sub": alice["id"]}, "params": {"id": pid},
                                                    "body": {"city": {"$ne": None}}})
    assert code == 1 and reply["status"] == 400 and reply["error"]["fields"][0]["field"] == "city"
    assert doc_of(stack, db, pid) == doc

    code, reply = call(stack, "properties.update", {"auth": {"sub": alice["id"]}, "params": {"id": pid},
                                                    "body": {"name": "Direct"}})
    assert code == 0 and reply["body"]["name"] == "Direct" and reply["body"]["version"] == 2
    assert doc_of(stack, db, pid)["last_rid"].startswith(reply["rid"] + ":")

    code, reply = call(stack, "properties.rooms.add", {"auth": {"sub": alice["id"]}, "params": {"id": pid},
                                                       "body": {"name": "Attic", "kind": "storage",
                                                                "area_m2": 12}})
    assert code == 0 and reply["status"] == 201 and reply["body"]["rooms"][-1]["id"] == 3
    code, reply = call(stack, "properties.rooms.update",
                       {"auth": {"sub": alice["id"]}, "params": {"id": pid, "room_id": "3"},
                        "body": {"characteristics": {"dry": True}}})
    assert code == 0 and reply["body"]["rooms"][-1]["characteristics"] == {"dry": True}
    code, reply = call(stack, "properties.rooms.delete", {"auth": {"sub": alice["id"]},
                                                          "params": {"id": pid, "room_id": 1}})
    assert code == 0 and [r["id"] for r in reply["body"]["rooms"]] == [2, 3]

    code, reply = call(stack, "properties.list", {"query": {"city": city.upper()}})
    assert code == 0 and [x["id"] for x in reply["body"]["items"]] == [pid]

    # Someone else, directly: refused by the worker.
    before = doc_of(stack, db, pid)
    code, reply = call(stack, "properties.delete", {"auth": {"sub": bob["id"]}, "params": {"id": pid}})
    assert code == 1 and reply["status"] == 403
    code, reply = call(stack, "properties.delete", {"params": {"id": pid}})
    assert code == 1 and reply["status"] == 401
    assert doc_of(stack, db, pid) == before

    code, reply = call(stack, "properties.delete", {"auth": {"sub": alice["id"]}, "params": {"id": pid}})
    assert code == 0 and reply["status"] == 204
    code, reply = call(stack, "properties.get", {"params": {"id": pid}})
    assert code == 1 and reply["status"] == 404
    assert doc_of(stack, db, pid)["deleted_at"] > 0


def test_each_create_stores_its_rid_and_a_new_rid_makes_a_new_property(stack, db, alice):
    city = unique("Twin")
    request = {"auth": {"sub": alice["id"]}, "body": prop_body(city=city)}
    code, first = call(stack, "properties.create", request)
    assert code == 0 and first["status"] == 201
    code, second = call(stack, "properties.create", copy.deepcopy(request))
    assert code == 0 and second["status"] == 201
    assert first["rid"] != second["rid"] and first["body"]["id"] != second["body"]["id"]
    docs = {d["_id"]: d for d in props_coll(stack, db).find({"city": city})}
    assert set(docs) == {first["body"]["id"], second["body"]["id"]}
    assert docs[first["body"]["id"]]["rid"].startswith(first["rid"] + ":")
    assert docs[second["body"]["id"]]["rid"].startswith(second["rid"] + ":")
    assert docs[first["body"]["id"]]["owner_id"] == docs[second["body"]["id"]]["owner_id"] == alice["id"]
    # The stored key (rid and request fingerprint) is unique in the collection.
    assert props_coll(stack, db).count_documents({"rid": docs[first["body"]["id"]]["rid"]}) == 1


def test_repeated_request_id_over_http_creates_once(stack, db, alice):
    city = unique("Retry")
    rid = "retry-" + unique()
    replies = [send(stack, "POST", "/api/v1/properties", prop_body(city=city), token=alice["token"],
                    headers={"X-Request-Id": rid}) for _ in range(2)]
    assert [r.status_code for r in replies] == [201, 201]
    assert replies[0].json() == replies[1].json()
    assert all(r.headers["X-Request-Id"] == rid for r in replies)
    assert props_coll(stack, db).count_documents({"city": city}) == 1
    assert doc_of(stack, db, replies[0].json()["id"])["rid"].startswith(rid + ":")


def test_repeated_request_id_over_http_changes_once(stack, db, alice):
    p = create(stack, alice)
    rid = "retry-" + unique()
    add = {"name": "Annex", "kind": "office", "area_m2": 5}
    replies = [send(stack, "POST", path(p["id"]) + "/rooms", add, token=alice["token"],
                    headers={"X-Request-Id": rid}) for _ in range(2)]
    assert [r.status_code for r in replies] == [201, 201]
    assert replies[0].json() == replies[1].json()
    doc = doc_of(stack, db, p["id"])
    assert doc["version"] == 2 and doc["room_count"] == 3 and doc["last_rid"].startswith(rid + ":")
    # A new request id is a new change.
    r = send(stack, "POST", path(p["id"]) + "/rooms", add, token=alice["token"])
    assert r.status_code == 201 and r.json()["room_count"] == 4 and r.json()["version"] == 3
