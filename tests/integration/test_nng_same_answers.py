"""A direct nng caller (roostctl call) gets the same auth and precondition
answers as an HTTP client: whether an op needs a user is said once, in the
workers' op table, and enforced by the worker runtime; If-Match reaches a
worker only as expect_version (protocol 1.1), which a 1.0 caller may still
send as if_match."""
import pytest

from roost_api import assert_problem, call, person, send

# Every op whose op table row says SVC_AUTH_REQUIRED, with one HTTP route of it.
NEEDS_A_USER = [
    ("places.create", "POST", "/api/v1/places", {}),
    ("users.me", "GET", "/api/v1/users/me", {}),
    ("users.update", "PATCH", "/api/v1/users/1", {"id": "1"}),
    ("properties.create", "POST", "/api/v1/properties", {}),
    ("properties.update", "PATCH", "/api/v1/properties/1", {"id": "1"}),
    ("properties.delete", "DELETE", "/api/v1/properties/1", {"id": "1"}),
    ("properties.rooms.add", "POST", "/api/v1/properties/1/rooms", {"id": "1"}),
    ("properties.rooms.update", "PATCH", "/api/v1/properties/1/rooms/1", {"id": "1", "room_id": "1"}),
    ("properties.rooms.delete", "DELETE", "/api/v1/properties/1/rooms/1", {"id": "1", "room_id": "1"}),
    ("bookings.create", "POST", "/api/v1/properties/1/bookings", {"id": "1"}),
    ("bookings.for_property", "GET", "/api/v1/properties/1/bookings", {"id": "1"}),
    ("bookings.get", "GET", "/api/v1/bookings/1", {"id": "1"}),
    ("bookings.cancel", "POST", "/api/v1/bookings/1/cancel", {"id": "1"}),
    ("bookings.mine", "GET", "/api/v1/users/me/bookings", {}),
    ("listings.create", "POST", "/api/v1/listings", {}),
    ("listings.update", "PATCH", "/api/v1/listings/1", {"id": "1"}),
    ("listings.delete", "DELETE", "/api/v1/listings/1", {"id": "1"}),
]


@pytest.mark.parametrize("op,method,path,params", NEEDS_A_USER, ids=[o[0] for o in NEEDS_A_USER])
def test_an_op_that_needs_a_user_is_401_over_http_and_over_nng(stack, db, op, method, path, params):
    body = {} if method in ("POST", "PATCH") else None
    r = send(stack, method, path, body)
    p = assert_problem(r, 401, code="unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer"), r.headers
    code, reply = call(stack, op, {"params": params} | ({"body": body} if body is not None else {}))
    assert code == 1 and reply["status"] == 401, reply
    assert reply["error"]["code"] == p["code"] and reply["error"]["message"] == p["detail"], (reply, p)


def test_a_public_op_with_a_bad_token_is_401_over_http_only_for_the_token(stack):
    r = send(stack, "GET", "/api/v1/properties", None, token="not-a-token")
    assert_problem(r, 401, code="invalid_token")
    code, reply = call(stack, "properties.list", {})
    assert code == 0 and reply["status"] == 200, reply


@pytest.fixture(scope="module")
def owner(stack):
    return person(stack)


def new_property(stack, owner):
    body = {"name": "Same answers", "type": "house", "city": "Porto", "address": "Rua 1",
            "rooms": [{"name": "Hall", "kind": "living", "area_m2": 10}]}
    r = send(stack, "POST", "/api/v1/properties", body, token=owner["token"])
    assert r.status_code == 201, r.text
    return r.json()


@pytest.mark.parametrize("if_match,expect,status", [
    ('"1"', [1], 200),
    ('"2"', [2], 412),
    ('W/"1"', [], 412),            # a weak tag never matches strongly (RFC 9110 §13.1.1)
    ('"7", "1"', [7, 1], 200),
    ('"01"', [], 412),             # not the ETag Roost wrote for version 1
])
def test_if_match_and_expect_version_get_the_same_answer(stack, owner, if_match, expect, status):
    http_prop, nng_prop, old_prop = new_property(stack, owner), new_property(stack, owner), new_property(stack, owner)
    r = send(stack, "PATCH", f"/api/v1/properties/{http_prop['id']}", {"name": "Renamed"}, token=owner["token"],
             headers={"If-Match": if_match})
    assert r.status_code == status, r.text
    for prop, precondition in ((nng_prop, {"expect_version": expect}), (old_prop, {"if_match": if_match})):
        code, reply = call(stack, "properties.update", {"params": {"id": str(prop["id"])}, "body": {"name": "Renamed"},
                                                        "auth": {"sub": owner["id"]}} | precondition)
        assert reply["status"] == status, (precondition, reply)
        if status == 412:
            assert reply["error"]["code"] == r.json()["code"] == "precondition_failed"


def test_a_malformed_precondition_is_a_400_either_way(stack, owner):
    prop = new_property(stack, owner)
    r = send(stack, "PATCH", f"/api/v1/properties/{prop['id']}", {"name": "x"}, token=owner["token"],
             headers={"If-Match": "3"})
    assert_problem(r, 400, code="bad_precondition")
    for precondition in ({"if_match": "3"}, {"expect_version": ["3"]}, {"expect_version": [0]}):
        code, reply = call(stack, "properties.update", {"params": {"id": str(prop["id"])}, "body": {"name": "x"},
                                                        "auth": {"sub": owner["id"]}} | precondition)
        assert reply["status"] == 400 and reply["error"]["code"] == "bad_envelope", (precondition, reply)
    r = send(stack, "GET", f"/api/v1/properties/{prop['id']}")
    assert r.json()["name"] == "Same answers" and r.json()["version"] == 1
