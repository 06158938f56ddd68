"""The users service end to end over HTTP: ingress -> nng -> worker -> database."""
import json

import pytest
import uuid

import requests

from roost_stack import new_user

JSON = {"Content-Type": "application/json"}


def post_user(stack, body, headers=JSON):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(stack.url("/api/v1/users"), data=data, headers=headers, timeout=10)


def assert_problem(r, status, field=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == status
    assert p["title"] and p["detail"] and p["type"].startswith("urn:roost:problem:")
    assert p["request_id"] == r.headers["X-Request-Id"]
    if field is not None:
        assert field in [e["field"] for e in p.get("errors", [])], p
    return p


def users_in_db(stack, db):
    return db[stack.prefix + "users"]["users"]


def test_create_get_and_stored_document(stack, db):
    r = post_user(stack, new_user(1, email="Ada@Example.org"))
    assert r.status_code == 201, r.text
    user = r.json()
    assert isinstance(user["id"], int) and user["id"] > 0
    assert r.headers["Location"] == f"/api/v1/users/{user['id']}"
    assert user["username"] == "user1" and user["name"] == "Ada Lovelace1"
    assert isinstance(user["created_at"], int) and user["created_at"] > 1_600_000_000_000_000
    assert not any("password" in k for k in user)

    got = requests.get(stack.url(f"/api/v1/users/{user['id']}"), timeout=10)
    assert got.status_code == 200
    assert got.json() == user

    doc = users_in_db(stack, db).find_one({"_id": user["id"]})
    assert doc["username"] == "user1"
    assert doc["password_hash"].startswith("$argon2id$")
    assert "password" not in doc


def test_duplicate_username_is_409_case_insensitively(stack, db):
    assert post_user(stack, new_user(2)).status_code == 201
    before = users_in_db(stack, db).count_documents({})
    assert_problem(post_user(stack, new_user(2)), 409)
    assert_problem(post_user(stack, new_user(2, username="USER2")), 409)
    assert users_in_db(stack, db).count_documents({}) == before


def test_duplicate_email_is_409(stack, db):
    assert post_user(stack, new_user(3, email="same@example.org")).status_code == 201
    p = assert_problem(post_user(stack, new_user(4, email="SAME@example.org")), 409)
    assert p["code"] == "email_taken"
    assert users_in_db(stack, db).count_documents({"username": "user4"}) == 0
    # The refused request did not keep a claim on its address: user4 can still register.
    assert post_user(stack, new_user(4)).status_code == 201


def test_unknown_user_is_404(stack):
    assert_problem(requests.get(stack.url("/api/v1/users/999999999"), timeout=10), 404)


@pytest.mark.parametrize("path", ["/api/v1/users/0", "/api/v1/users/-3", "/api/v1/users/abc",
                                  "/api/v1/users/99999999999999999999999"])
def test_bad_id_is_400(stack, path):
    assert_problem(requests.get(stack.url(path), timeout=10), 400, "id")


@pytest.mark.parametrize("override,field", [
    ({"username": "ab"}, "username"),
    ({"username": "bad name"}, "username"),
    ({"username": {"$ne": None}}, "username"),
    ({"username": 42}, "username"),
    ({"password": "short"}, "password"),
    ({"password": ["a"] * 9}, "password"),
    ({"first_name": ""}, "first_name"),
    ({"last_name": "x" * 101}, "last_name"),
    ({"birth_date": "1990-02-30"}, "birth_date"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"birth_date": 19900101}, "birth_date"),
    ({"email": "not-an-email"}, "email"),
    ({"is_admin": True}, "is_admin"),
    ({"$where": "1"}, "$where"),
    ({"birth_date": {"$date": 0}}, "birth_date"),
])
def test_every_bad_field_is_400_and_writes_nothing(stack, db, override, field):
    body = new_user(100, **override)
    assert_problem(post_user(stack, body), 400, field)
    assert users_in_db(stack, db).count_documents({"username": "user100"}) == 0


def test_missing_fields_are_each_reported(stack):
    p = assert_problem(post_user(stack, {}), 400)
    fields = {e["field"] for e in p["errors"]}
    assert fields == {"username", "password", "first_name", "last_name", "birth_date"}


@pytest.mark.parametrize("raw", [b"", b"{", b"[1,2]", b'"text"', b"{\"a\":1} trailing", b"{'a':1}",
                                 b"{\"username\":\"\xff\xfe\"}", b"[" * 100 + b"]" * 100])
def test_malformed_json_is_400(stack, raw):
    assert_problem(post_user(stack, raw), 400)


def test_wrong_content_type_is_415(stack):
    assert_problem(post_user(stack, json.dumps(new_user(5)), headers={"Content-Type": "text/plain"}), 415)


def test_oversized_body_is_413(stack, db):
    body = new_user(6, first_name="x" * (2 << 20))
    r = post_user(stack, body)
    assert r.status_code == 413
    assert users_in_db(stack, db).count_documents({"username": "user6"}) == 0


def test_unknown_route_404_and_wrong_method_405(stack):
    assert_problem(requests.get(stack.url("/api/v1/nothing"), timeout=10), 404)
    r = requests.delete(stack.url("/api/v1/users"), timeout=10)
    assert_problem(r, 405)
    assert set(m.strip() for m in r.headers["Allow"].split(",")) == {"GET", "POST"}
    r = requests.put(stack.url("/api/v1/users/1"), timeout=10)
    assert_problem(r, 405)
    assert set(m.strip() for m in r.headers["Allow"].split(",")) == {"GET", "PATCH"}


def test_request_id_is_echoed_or_generated(stack):
    r = requests.get(stack.url("/healthz"), headers={"X-Request-Id": "abc-123"}, timeout=10)
    assert r.headers["X-Request-Id"] == "abc-123"
    # An id Roost cannot use as given is refused, never replaced: it is the
    # request's idempotency id, and a retry under another would write twice.
    for bad in ("bad id!", "x" * 65, "é"):
        r = requests.get(stack.url("/api/v1/users/999999999"), headers={"X-Request-Id": bad.encode()}, timeout=10)
        assert r.status_code == 400 and r.json()["code"] == "bad_request_id", r.text
        assert len(r.headers["X-Request-Id"]) == 32 and r.json()["request_id"] == r.headers["X-Request-Id"]
    r = requests.get(stack.url("/healthz"), headers={"X-Request-Id": "bad id!"}, timeout=10)
    assert r.status_code == 400


def test_a_write_under_an_unusable_request_id_changes_nothing(stack, db):
    before = db["roost_users"]["users"].count_documents({}) if "roost_users" in db.list_database_names() else 0
    body = {"username": "rid" + uuid.uuid4().hex[:8], "password": "correct horse", "first_name": "A",
            "last_name": "B", "birth_date": "1990-01-01"}
    r = requests.post(stack.url("/api/v1/users"), json=body, headers={"X-Request-Id": "y" * 70}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == "bad_request_id", r.text
    r = requests.post(stack.url("/listings"), data={"user_id": "1", "listing_type": "rent", "price": "5"},
                      headers={"X-Request-Id": "no spaces"}, timeout=10)
    assert r.status_code == 400 and r.json()["result"] is False  # the classic routes' own error shape
    assert requests.get(stack.url(f"/api/v1/users?username={body['username']}"), timeout=10).json()["total"] == 0


def test_list_pagination_total_and_link(stack, db):
    for n in range(200, 207):
        assert post_user(stack, new_user(n)).status_code == 201
    total = users_in_db(stack, db).count_documents({})

    r = requests.get(stack.url("/api/v1/users?per_page=3&page=2"), timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == total and body["page"] == 2 and body["per_page"] == 3
    assert len(body["items"]) == 3
    ids = [u["id"] for u in body["items"]]
    assert ids == sorted(ids)
    links = requests.utils.parse_header_links(r.headers["Link"])
    rels = {l["rel"]: l["url"] for l in links}
    last = (total + 2) // 3
    assert rels["first"] == "/api/v1/users?page=1&per_page=3"
    assert rels["prev"] == "/api/v1/users?page=1&per_page=3"
    assert rels["next"] == "/api/v1/users?page=3&per_page=3"
    assert rels["last"] == f"/api/v1/users?page={last}&per_page=3"

    # Pages tile the collection: no user twice, none missing.
    seen = []
    for page in range(1, last + 1):
        seen += [u["id"] for u in requests.get(stack.url(f"/api/v1/users?per_page=3&page={page}"),
                                               timeout=10).json()["items"]]
    assert len(seen) == len(set(seen)) == total

    empty = requests.get(stack.url(f"/api/v1/users?per_page=3&page={last + 1}"), timeout=10).json()
    assert empty["items"] == [] and empty["total"] == total

    default = requests.get(stack.url("/api/v1/users"), timeout=10).json()
    assert default["per_page"] == 10 and len(default["items"]) == min(10, total)


@pytest.mark.parametrize("query,field", [("per_page=101", "per_page"), ("per_page=0", "per_page"),
                                         ("page=0", "page"), ("page=x", "page"), ("per_page=-5", "per_page"),
                                         ("sort=%24where", "sort")])
def test_bad_list_parameters_are_400(stack, query, field):
    assert_problem(requests.get(stack.url("/api/v1/users?" + query), timeout=10), 400, field)


@pytest.mark.parametrize("query", ["page=%zz", "page=1&page=2", "a=%00"])
def test_malformed_query_is_400(stack, query):
    assert_problem(requests.get(stack.url("/api/v1/users?" + query), timeout=10), 400)


def test_health_and_readiness(stack):
    assert requests.get(stack.url("/healthz"), timeout=10).json() == {"status": "ok"}
    assert requests.get(stack.url("/readyz"), timeout=10).json() == {"status": "ready"}
    pong = requests.get(stack.url("/ping"), timeout=10).json()
    assert pong["pong"] is True and pong["worker_pid"] in stack.worker_pids()
