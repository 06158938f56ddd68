"""Places and the people in them: a join over nng, one request per page."""
import json
import uuid

import pytest
import requests

from roost_stack import Stack, new_user

JSON = {"Content-Type": "application/json"}


def unique(prefix):
    return prefix + uuid.uuid4().hex[:8]


def token_for(stack, **over):
    body = new_user(0, username=unique("p"), **over)
    r = requests.post(stack.url("/api/v1/users"), data=json.dumps(body), headers=JSON, timeout=10)
    assert r.status_code == 201, r.text
    t = requests.post(stack.url("/api/v1/auth/token"), json={"username": body["username"], "password": body["password"]},
                      timeout=10).json()["access_token"]
    return r.json(), {"Authorization": "Bearer " + t}


def place(stack, auth, name=None, country="Portugal"):
    r = requests.post(stack.url("/api/v1/places"), headers=auth, json={"name": name or unique("Town "), "country": country},
                      timeout=10)
    assert r.status_code == 201, r.text
    return r.json()


def places_in_db(stack):
    db = stack.mongo()
    try:
        return db[stack.prefix + "places"]["places"].count_documents({})
    finally:
        db.close()


# --- refusals first --------------------------------------------------------------------

def test_creating_a_place_needs_a_token(stack):
    before = places_in_db(stack)
    r = requests.post(stack.url("/api/v1/places"), json={"name": unique("X"), "country": "Y"}, timeout=10)
    assert r.status_code == 401
    assert places_in_db(stack) == before


@pytest.mark.parametrize("body,field", [({"country": "PT"}, "name"), ({"name": "A"}, "country"),
                                        ({"name": "", "country": "PT"}, "name"),
                                        ({"name": {"$ne": None}, "country": "PT"}, "name"),
                                        ({"name": "A", "country": "PT", "population": 3}, "population")])
def test_bad_places_are_400(stack, body, field):
    _, auth = token_for(stack)
    before = places_in_db(stack)
    r = requests.post(stack.url("/api/v1/places"), headers=auth, json=body, timeout=10)
    assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]], r.text
    assert places_in_db(stack) == before


def test_place_names_are_unique_case_insensitively(stack):
    _, auth = token_for(stack)
    name = unique("Evora ")
    place(stack, auth, name)
    before = places_in_db(stack)
    r = requests.post(stack.url("/api/v1/places"), headers=auth, json={"name": name.upper(), "country": "PT"}, timeout=10)
    assert r.status_code == 409 and r.json()["code"] == "place_name_taken"
    assert places_in_db(stack) == before


def test_unknown_place_and_bad_embed(stack):
    assert requests.get(stack.url("/api/v1/places/999999999"), timeout=10).status_code == 404
    r = requests.get(stack.url("/api/v1/places?embed=friends"), timeout=10)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "embed"


def test_a_user_place_must_exist(stack):
    body = new_user(0, username=unique("q"), place_id=999999999)
    r = requests.post(stack.url("/api/v1/users"), data=json.dumps(body), headers=JSON, timeout=10)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "place_id"
    user, auth = token_for(stack)
    r = requests.patch(stack.url(f"/api/v1/users/{user['id']}"), headers=auth, json={"place_id": 999999999}, timeout=10)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "place_id"


@pytest.mark.parametrize("body", ['{}', '{"place_ids": []}', '{"place_ids": [0]}', '{"place_ids": ["1"]}',
                                  '{"place_ids": 5}', '{"place_ids": [1], "x": 1}'])
def test_people_lookup_refuses_bad_requests(stack, body):
    r = stack.roostctl("call", "users.by_place", json.dumps({"body": json.loads(body)}))
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == 400, r.stdout


# --- the life of places -------------------------------------------------------------------

def test_create_get_list_and_people(stack):
    owner, auth = token_for(stack)
    lisbon, porto = place(stack, auth, unique("Lisbon ")), place(stack, auth, unique("Porto "))
    assert requests.get(stack.url(f"/api/v1/places/{lisbon['id']}"), timeout=10).json() == lisbon
    ana, _ = token_for(stack, place_id=lisbon["id"])
    rui, rui_auth = token_for(stack)
    r = requests.patch(stack.url(f"/api/v1/users/{rui['id']}"), headers=rui_auth, json={"place_id": lisbon["id"]},
                       timeout=10)
    assert r.status_code == 200 and r.json()["place_id"] == lisbon["id"]

    everything = []
    page = 1
    while True:
        body = requests.get(stack.url(f"/api/v1/places?embed=people&per_page=100&page={page}"), timeout=10).json()
        everything += body["items"]
        if page * 100 >= body["total"]:
            break
        page += 1
    by_id = {p["id"]: p for p in everything}
    assert sorted(u["id"] for u in by_id[lisbon["id"]]["people"]) == sorted([ana["id"], rui["id"]])
    assert by_id[porto["id"]]["people"] == []
    assert all("password_hash" not in u for p in everything for u in p["people"])
    plain = requests.get(stack.url("/api/v1/places?per_page=2"), timeout=10)
    assert plain.status_code == 200 and "people" not in plain.json()["items"][0] and "Link" in plain.headers


def test_one_people_request_per_page():
    s = Stack(workers=1, env={"ROOST_LOG_LEVEL": "debug"}, pools=[["users"], ["places"]])
    try:
        s.start()
        _, auth = token_for(s)
        for i in range(4):
            p = place(s, auth)
            token_for(s, place_id=p["id"])
        before = s.log("pool-users").count("op=users.by_place")
        r = requests.get(s.url("/api/v1/places?embed=people&per_page=4"), timeout=10)
        assert r.status_code == 200 and len(r.json()["items"]) == 4
        assert all(len(p["people"]) == 1 for p in r.json()["items"])
        assert s.log("pool-users").count("op=users.by_place") - before == 1
    finally:
        s.stop()
