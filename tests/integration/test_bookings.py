"""Bookings: availability, the rules of a stay, who may see and cancel, and
no double booking under concurrent requests (the database decides)."""
import concurrent.futures
import datetime
import json
import time
import uuid

import pytest
import requests

from roost_stack import EXTERNAL_DB, NEEDS_EMBEDDED_DB, new_user, running, running_behind_proxy

JSON = {"Content-Type": "application/json"}


def day(offset):
    return (datetime.date.today() + datetime.timedelta(days=offset)).isoformat()


class World:
    def __init__(self, stack):
        self.stack = stack

    def user(self):
        n = uuid.uuid4().hex[:10]
        body = new_user(0, username="b" + n)
        r = requests.post(self.stack.url("/api/v1/users"), data=json.dumps(body), headers=JSON, timeout=10)
        assert r.status_code == 201, r.text
        t = requests.post(self.stack.url("/api/v1/auth/token"),
                          json={"username": body["username"], "password": body["password"]}, timeout=10).json()
        return r.json()["id"], {"Authorization": "Bearer " + t["access_token"]}

    def prop(self, auth):
        r = requests.post(self.stack.url("/api/v1/properties"), headers=auth, timeout=10,
                          json={"name": "Stay", "type": "house", "city": "Faro", "address": "1 Rua"})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    def book(self, auth, pid, check_in, check_out):
        return requests.post(self.stack.url(f"/api/v1/properties/{pid}/bookings"), headers=auth, timeout=60,
                             json={"check_in": check_in, "check_out": check_out})


@pytest.fixture(scope="module")
def world():
    with running(workers=2) as s:  # two worker processes share the pool
        yield World(s)


def nights(world, pid):
    db = world.stack.mongo()
    try:
        return sorted((n["date"], n["booking_id"]) for n in db[world.stack.prefix + "bookings"]["nights"].find(
            {"property_id": pid}))
    finally:
        db.close()


# --- refusals first -----------------------------------------------------------

@pytest.mark.parametrize("body,field", [
    ({"check_in": day(5)}, "check_out"),
    ({"check_in": day(5), "check_out": day(5)}, "check_out"),
    ({"check_in": day(6), "check_out": day(5)}, "check_out"),
    ({"check_in": day(-1), "check_out": day(2)}, "check_in"),
    ({"check_in": day(1), "check_out": day(367)}, "check_out"),
    ({"check_in": "2030-02-30", "check_out": "2030-03-02"}, "check_in"),
    ({"check_in": {"$gt": ""}, "check_out": day(3)}, "check_in"),
    ({"check_in": day(1), "check_out": day(2), "guest_id": 1}, "guest_id"),
])
def test_bad_stays_are_400_and_book_nothing(world, body, field):
    _, auth = world.user()
    pid = world.prop(auth)
    r = requests.post(world.stack.url(f"/api/v1/properties/{pid}/bookings"), headers=auth, json=body, timeout=10)
    assert r.status_code == 400, r.text
    assert field in [e["field"] for e in r.json()["errors"]]
    assert nights(world, pid) == []


def test_booking_needs_a_token_and_an_existing_property(world):
    _, auth = world.user()
    r = requests.post(world.stack.url("/api/v1/properties/1/bookings"), json={"check_in": day(1), "check_out": day(2)},
                      timeout=10)
    assert r.status_code == 401
    assert world.book(auth, 999999999, day(1), day(2)).status_code == 404


def test_only_guest_and_owner_see_or_cancel_a_booking(world):
    owner, owner_auth = world.user()
    guest, guest_auth = world.user()
    _, other_auth = world.user()
    pid = world.prop(owner_auth)
    b = world.book(guest_auth, pid, day(10), day(12)).json()
    url = world.stack.url(f"/api/v1/bookings/{b['id']}")
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers=other_auth, timeout=10).status_code == 403
    assert requests.post(url + "/cancel", headers=other_auth, timeout=10).status_code == 403
    assert requests.get(url, headers=guest_auth, timeout=10).json()["status"] == "confirmed"
    assert requests.get(url, headers=owner_auth, timeout=10).json()["guest_id"] == guest
    props = world.stack.url(f"/api/v1/properties/{pid}/bookings")
    assert requests.get(props, headers=guest_auth, timeout=10).status_code == 403
    assert [x["id"] for x in requests.get(props, headers=owner_auth, timeout=10).json()["items"]] == [b["id"]]
    assert requests.get(world.stack.url("/api/v1/bookings/999999999"), headers=guest_auth, timeout=10).status_code == 404


# --- the life of a stay ----------------------------------------------------------

def test_book_check_availability_cancel_and_rebook(world):
    _, owner_auth = world.user()
    guest, guest_auth = world.user()
    pid = world.prop(owner_auth)
    avail = world.stack.url(f"/api/v1/properties/{pid}/availability")

    free = requests.get(avail, params={"from": day(20), "to": day(30)}, timeout=10).json()
    assert free == {"property_id": pid, "from": day(20), "to": day(30), "booked": [], "available": True}

    r = world.book(guest_auth, pid, day(22), day(25))
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["check_in"], b["check_out"], b["nights"], b["status"], b["guest_id"]) == \
        (day(22), day(25), 3, "confirmed", guest)
    assert [d for d, _ in nights(world, pid)] == [day(22), day(23), day(24)]

    got = requests.get(avail, params={"from": day(20), "to": day(30)}, timeout=10).json()
    assert got["available"] is False and got["booked"] == [{"from": day(22), "to": day(25)}]
    # A range that touches the stay only at its ends is free: check-out day is not a night.
    assert requests.get(avail, params={"from": day(25), "to": day(27)}, timeout=10).json()["available"] is True
    assert requests.get(avail, params={"from": day(20), "to": day(22)}, timeout=10).json()["available"] is True

    conflict = world.book(guest_auth, pid, day(24), day(26))
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "booking_conflict" and day(24) in conflict.json()["detail"]
    # Back-to-back stays are fine.
    assert world.book(guest_auth, pid, day(25), day(26)).status_code == 201

    mine = requests.get(world.stack.url("/api/v1/users/me/bookings"), headers=guest_auth, timeout=10).json()
    assert {x["check_in"] for x in mine["items"]} == {day(22), day(25)} and mine["total"] == 2

    c = requests.post(world.stack.url(f"/api/v1/bookings/{b['id']}/cancel"), headers=owner_auth, timeout=10)
    assert c.status_code == 200 and c.json()["status"] == "cancelled"
    assert requests.post(world.stack.url(f"/api/v1/bookings/{b['id']}/cancel"), headers=guest_auth,
                         timeout=10).json()["status"] == "cancelled"
    assert [d for d, _ in nights(world, pid)] == [day(25)]
    assert world.book(guest_auth, pid, day(23), day(25)).status_code == 201


@pytest.mark.parametrize("query,field", [({"from": day(1)}, "to"), ({"from": day(5), "to": day(5)}, "to"),
                                         ({"from": "x", "to": day(5)}, "from"),
                                         ({"from": day(1), "to": day(400)}, "to")])
def test_bad_availability_queries_are_400(world, query, field):
    _, auth = world.user()
    pid = world.prop(auth)
    r = requests.get(world.stack.url(f"/api/v1/properties/{pid}/availability"), params=query, timeout=10)
    assert r.status_code == 400 and field in [e["field"] for e in r.json()["errors"]]


# --- no overlap, ever --------------------------------------------------------------

def odd(results):
    """The first answer that is neither 201 nor 409, for a failure's message."""
    return next(((r.status_code, r.text[:300]) for r in results if r.status_code not in (201, 409)), None)


def race(world, stays):
    """Fires one booking per (check_in, check_out) at once; returns (statuses, pid, guests' auths)."""
    _, owner_auth = world.user()
    pid = world.prop(owner_auth)
    guests = [world.user()[1] for _ in range(5)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(stays)) as pool:
        futures = [pool.submit(world.book, guests[i % len(guests)], pid, a, b) for i, (a, b) in enumerate(stays)]
        results = [f.result() for f in futures]
    return results, pid


def test_fifty_identical_concurrent_bookings_give_exactly_one(world):
    results, pid = race(world, [(day(40), day(45))] * 50)
    statuses = sorted(r.status_code for r in results)
    assert statuses == [201] + [409] * 49, (statuses, odd(results))
    winner = next(r.json() for r in results if r.status_code == 201)
    assert nights(world, pid) == [(day(d), winner["id"]) for d in range(40, 45)]
    db = world.stack.mongo()
    assert db[world.stack.prefix + "bookings"]["bookings"].count_documents({"property_id": pid}) == 1
    db.close()


def test_fifty_partially_overlapping_concurrent_bookings_give_exactly_one(world):
    # Every stay contains the night of day 60, each starts and ends elsewhere.
    stays = [(day(60 - i % 7), day(61 + i % 5)) for i in range(50)]
    results, pid = race(world, stays)
    statuses = [r.status_code for r in results]
    assert statuses.count(201) == 1 and statuses.count(409) == 49, (sorted(statuses), odd(results))
    winner = next(r.json() for r in results if r.status_code == 201)
    booked = nights(world, pid)
    assert {b for _, b in booked} == {winner["id"]}
    assert [d for d, _ in booked] == [day(x) for x in range(
        (datetime.date.fromisoformat(winner["check_in"]) - datetime.date.today()).days,
        (datetime.date.fromisoformat(winner["check_out"]) - datetime.date.today()).days)]


@pytest.mark.skipif(EXTERNAL_DB is not None, reason=NEEDS_EMBEDDED_DB)
def test_nights_written_before_a_failed_insert_are_given_back():
    """The database does a booking's nights insert, but the worker is told
    only that the connection dropped (not a duplicate): the booking fails,
    and must not leave its nights behind to block the dates for good."""
    with running_behind_proxy(workers=1) as (s, proxy):
        w = World(s)
        _, owner_auth = w.user()
        guest, guest_auth = w.user()
        pid = w.prop(owner_auth)
        proxy.cut = ("insert", "nights")
        r = w.book(guest_auth, pid, day(40), day(43))
        assert r.status_code in (500, 503) and proxy.cut is None, (r.status_code, r.text)
        assert nights(w, pid) == [], "the failed booking's nights are still held:\n" + s.log("pool")[-1500:]
        mine = requests.get(s.url("/api/v1/users/me/bookings"), headers=guest_auth, timeout=10)
        assert all(b["property_id"] != pid for b in mine.json().get("items", [])), mine.text
        r = w.book(guest_auth, pid, day(40), day(43))
        assert r.status_code == 201, r.text


def test_an_ask_of_a_service_this_worker_serves_needs_no_free_context():
    """A booking asks the properties service who owns the property. With one
    pool serving both, and every context busy with a booking (here: one
    worker of one context), the ask once waited for a context that only it
    could free, and the booking got 503 after 5 s. It is answered in process."""
    with running(workers=1, env={"ROOST_WORKER_CONCURRENCY": "1"}) as s:
        w = World(s)
        _, owner_auth = w.user()
        _, guest_auth = w.user()
        pid = w.prop(owner_auth)
        t = time.monotonic()
        r = w.book(guest_auth, pid, day(30), day(32))
        assert r.status_code == 201 and time.monotonic() - t < 3, (r.status_code, r.text[:300])
