"""Concurrent writers across two worker processes: nothing lost, nothing
doubled. Roost arbitrates every race with a unique index, because a
MongoDB-compatible store (FerretDB was one) may not make findAndModify or
conditional updates atomic; these tests fail if that ever regresses."""
import concurrent.futures
import json
import uuid

import pytest
import requests

from roost_stack import new_user, running

JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def busy():
    with running(workers=2) as s:
        yield s


def owner(stack):
    body = new_user(0, username="c" + uuid.uuid4().hex[:10])
    assert requests.post(stack.url("/api/v1/users"), data=json.dumps(body), headers=JSON, timeout=10).status_code == 201
    token = requests.post(stack.url("/api/v1/auth/token"), json={"username": body["username"],
                                                                 "password": body["password"]}, timeout=10).json()
    auth = {"Authorization": "Bearer " + token["access_token"]}
    r = requests.post(stack.url("/api/v1/properties"), headers=auth, timeout=10,
                      json={"name": "Busy", "type": "house", "city": "Braga", "address": "2 Rua"})
    assert r.status_code == 201
    return auth, r.json()["id"]


def at_once(n, fn):
    with concurrent.futures.ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(fn, range(n)))


def test_concurrent_creates_get_distinct_ids(busy):
    def create(i):
        return requests.post(busy.url("/users"), data={"name": f"Burst {i}"}, timeout=30)
    results = at_once(40, create)
    assert [r.status_code for r in results] == [200] * 40, [r.text for r in results if r.status_code != 200][:2]
    ids = [r.json()["user"]["id"] for r in results]
    assert len(set(ids)) == 40


def test_same_if_match_lets_exactly_one_change_through(busy):
    auth, pid = owner(busy)

    def rename(i):
        return requests.patch(busy.url(f"/api/v1/properties/{pid}"), headers={**auth, "If-Match": '"1"'},
                              json={"name": f"Tab {i}"}, timeout=30)
    statuses = sorted(r.status_code for r in at_once(20, rename))
    assert statuses == [200] + [412] * 19, statuses
    got = requests.get(busy.url(f"/api/v1/properties/{pid}"), timeout=10).json()
    assert got["version"] == 2 and got["name"].startswith("Tab ")


def test_concurrent_changes_without_if_match_lose_nothing(busy):
    auth, pid = owner(busy)

    def add_room(i):
        return requests.post(busy.url(f"/api/v1/properties/{pid}/rooms"), headers=auth, timeout=30,
                             json={"name": f"Room {i}", "kind": "bedroom", "area_m2": 10 + i})
    results = at_once(12, add_room)
    assert all(r.status_code == 201 for r in results), [r.text for r in results if r.status_code != 201][:2]
    got = requests.get(busy.url(f"/api/v1/properties/{pid}"), timeout=10).json()
    assert got["room_count"] == 12 and got["version"] == 13
    assert sorted(r["name"] for r in got["rooms"]) == sorted(f"Room {i}" for i in range(12))
    assert sorted(r["id"] for r in got["rooms"]) == list(range(1, 13))
    db = busy.mongo()
    history = db[busy.prefix + "properties"]["changes"].count_documents({"property_id": pid})
    db.close()
    assert history == 12
