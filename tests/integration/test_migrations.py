"""`roostctl migrate status | up [TARGET] | down [TARGET]` against a real
embedded database, and what a worker does while its database is behind:
/readyz and every op of the service answer 503 `migration_required`,
naming the command to run. Each service records its versions in its own
database (`migrations`: name, checksum, applied_at); runners decide who
applies a step by a unique insert (`migration_locks`), so concurrent runs
apply each step once; a step that fails halfway resumes from what it saved.
"""
import subprocess
import time
import os

import pytest
import requests

from roost_stack import BUILD, Stack, wait_until

SERVICES = ["users", "properties", "places", "listings", "bookings"]
VERSIONS = {"users": 1, "properties": 9, "places": 1, "listings": 4, "bookings": 1}
NAMES = ("indexes", "living_area", "room_counts", "search_indexes", "listings_snapshot", "words", "text_index",
         "listings_snapshot_words", "facet_indexes", "media_indexes")


@pytest.fixture
def fresh():
    """A database only: no worker has touched it."""
    s = Stack(workers=1)
    try:
        s.start_db()
        yield s
    finally:
        s.stop()


def indexes(s):
    """{(database, collection): {name: (keys, unique)}} of every Roost database, _id_ left out."""
    client = s.mongo()
    try:
        out = {}
        for service in SERVICES:
            db = client[s.prefix + service]
            for coll in db.list_collection_names():
                if coll.startswith("migration"):
                    continue
                got = {ix["name"]: (tuple(ix["key"].items()), bool(ix.get("unique")))
                       for ix in db[coll].list_indexes() if ix["name"] != "_id_"}
                if got:
                    out[(service, coll)] = got
        return out
    finally:
        client.close()


def records(s, service):
    client = s.mongo()
    try:
        return {r["_id"]: r for r in client[s.prefix + service]["migrations"].find()}
    finally:
        client.close()


def log(s, service):
    client = s.mongo()
    try:
        return list(client[s.prefix + service]["migration_log"].find().sort([("at", 1), ("_id", 1)]))
    finally:
        client.close()


def test_status_of_a_fresh_database_lists_every_version_pending(fresh):
    r = fresh.migrate("status", check=False)
    assert r.returncode == 1, (r.stdout, r.stderr)  # not up to date
    for service in SERVICES:
        assert f"{service}: at version 0 of {VERSIONS[service]}; run `roostctl migrate up {service}`" in r.stdout
    assert "  1  indexes                  pending" in r.stdout
    assert "  2  living_area              pending" in r.stdout
    assert indexes(fresh) == {}  # status changes nothing


def test_up_records_each_version_and_status_says_up_to_date(fresh):
    before = time.time()
    r = fresh.migrate("up")
    for service in SERVICES:
        for v in range(1, VERSIONS[service] + 1):
            assert f"{service}: up {v} " in r.stdout
        recs = records(fresh, service)
        assert sorted(recs) == list(range(1, VERSIONS[service] + 1))
        for rec in recs.values():
            assert rec["state"] == "applied" and rec["name"] in NAMES
            assert rec["checksum"].startswith("sha256:") and len(rec["checksum"]) == 7 + 64
            assert before - 5 <= rec["applied_at"].timestamp() <= time.time() + 5
    r = fresh.migrate("status")
    assert all(f"{service}: at version {VERSIONS[service]} of {VERSIONS[service]}, up to date" in r.stdout
               for service in SERVICES)
    # A second up has nothing to do, and applies nothing twice.
    r = fresh.migrate("up")
    assert r.stdout.count("nothing to do") == len(SERVICES)
    assert all(len([e for e in log(fresh, s) if e["direction"] == "up"]) == VERSIONS[s] for s in SERVICES)


def test_up_down_up_leaves_the_same_indexes(fresh):
    fresh.migrate("up")
    first = indexes(fresh)
    # The indexes the lists rely on (docs/embedded-db.md) are there.
    assert first[("users", "users")]["username_key_unique"] == ((("username_key", 1),), True)
    assert first[("properties", "properties")]["live_created"] == ((("deleted_at", 1), ("created_at", -1)), False)
    assert ("listings", "listings") in first and ("bookings", "nights") in first and ("places", "places") in first
    for service in SERVICES:
        r = fresh.migrate("down", service, "0")
        assert f"{service}: down 1 indexes" in r.stdout
        assert records(fresh, service) == {}
    assert indexes(fresh) == {}
    fresh.migrate("up")
    assert indexes(fresh) == first
    # Down one step (the default) reverts the newest version only.
    r = fresh.migrate("down", "properties")
    assert "properties: down 9 media_indexes" in r.stdout and "down 8" not in r.stdout
    assert sorted(records(fresh, "properties")) == [1, 2, 3, 4, 5, 6, 7, 8]
    r = fresh.migrate("down", "properties", "3")
    assert "properties: down 7 text_index" in r.stdout and "properties: down 4 search_indexes" in r.stdout
    assert "location_2dsphere" not in indexes(fresh)[("properties", "properties")]
    assert "search_text" not in indexes(fresh)[("properties", "properties")]
    fresh.migrate("up", "properties", "9")
    assert sorted(records(fresh, "properties")) == [1, 2, 3, 4, 5, 6, 7, 8, 9] and indexes(fresh) == first


def test_a_worker_behind_its_database_answers_503_naming_the_command(fresh):
    fresh.migrate("up", "properties", "1")  # properties at 1 of 2, the other services at 0
    fresh.start_pool()
    fresh.start_ingress()
    ready = None

    def answered():
        nonlocal ready
        ready = requests.get(fresh.url("/readyz"), timeout=5)
        return ready.status_code == 503 and ready.json()["code"] == "migration_required"

    wait_until(answered, 20, "/readyz to say a migration is required")
    assert "run `roostctl migrate up " in ready.json()["detail"]
    r = requests.get(fresh.url("/api/v1/properties?per_page=1"), timeout=5)
    assert r.status_code == 503 and r.headers["Content-Type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "migration_required" and r.headers["Retry-After"] == "5"
    assert body["detail"] == ("the properties database is at migration 1 and this worker needs 9 (next: 2 "
                              "living_area): run `roostctl migrate up properties`")
    # Direct nng callers get the same answer; nothing was written.
    r = fresh.roostctl("call", "users.create", '{"body": {"username": "ada", "password": "correct horse", '
                                               '"first_name": "Ada", "last_name": "L"}}')
    assert r.returncode == 1 and '"code" : "migration_required"' in r.stdout.replace('":"', '" : "'), r.stdout
    assert "roostctl migrate up users" in r.stdout
    client = fresh.mongo()
    assert client[fresh.prefix + "users"]["users"].count_documents({}) == 0
    client.close()

    fresh.migrate("up")
    wait_until(lambda: requests.get(fresh.url("/readyz"), timeout=5).status_code == 200, 10,
               "/readyz to answer 200 once migrated")
    assert requests.get(fresh.url("/api/v1/properties?per_page=1"), timeout=5).status_code == 200


def raw_properties(s, n, bad=None):
    """n properties as an older binary wrote them (no living_area_m2), _id 1..n;
    property `bad` has rooms without a numeric area."""
    client = s.mongo()
    docs = []
    for i in range(1, n + 1):
        rooms = [{"id": 1, "name": "A", "kind": "bedroom", "area_m2": 10.0 + i % 7, "characteristics": {}},
                 {"id": 2, "name": "B", "kind": "kitchen", "area_m2": 5.5, "characteristics": {}}]
        if i == bad:
            rooms = [{"id": 1, "name": "A", "kind": "bedroom", "area_m2": "large", "characteristics": {}}]
        docs.append({"_id": i, "name": f"P{i}", "description": "", "type": "house", "city": "Lyon",
                     "city_key": "lyon", "address": f"{i} rue", "rooms": rooms, "room_count": len(rooms),
                     "next_room_id": 3, "owner_id": 1, "version": 1, "created_at": 1, "updated_at": 1,
                     "rid": f"r{i}", "last_rid": f"r{i}"})
    client[s.prefix + "properties"]["properties"].insert_many(docs)
    client.close()


def areas(s):
    client = s.mongo()
    try:
        return {d["_id"]: d.get("living_area_m2")
                for d in client[s.prefix + "properties"]["properties"].find({}, {"living_area_m2": 1})}
    finally:
        client.close()


def test_the_data_migration_backfills_the_living_area_and_reverts_it(fresh):
    fresh.migrate("up", "properties", "1")
    raw_properties(fresh, 250)
    fresh.migrate("up", "properties")
    got = areas(fresh)
    assert got == {i: 10.0 + i % 7 + 5.5 for i in range(1, 251)}
    client = fresh.mongo()
    counts = {d["_id"]: (d.get("bedrooms"), d.get("bathrooms"), d.get("listings_pending"))
              for d in client[fresh.prefix + "properties"]["properties"].find({})}
    client.close()
    assert counts == {i: (1, 0, True) for i in range(1, 251)}
    fresh.start_pool()
    fresh.start_ingress()
    fresh.migrate("up")
    fresh.wait_ready()
    p = requests.get(fresh.url("/api/v1/properties/7"), timeout=5).json()
    assert p["living_area_m2"] == 10.0 + 0 + 5.5 and (p["bedrooms"], p["bathrooms"]) == (1, 0)
    fresh.migrate("down", "properties", "1")
    assert set(areas(fresh).values()) == {None}
    r = fresh.migrate("status", "properties", check=False)
    assert r.returncode == 1 and "  2  living_area              pending" in r.stdout


def test_a_migration_that_fails_halfway_resumes_where_it_stopped(fresh):
    fresh.migrate("up", "properties", "1")
    raw_properties(fresh, 450, bad=300)
    r = fresh.migrate("up", "properties", check=False)
    assert r.returncode == 1
    assert "property 300: its rooms are not a list of rooms each with a kind and a numeric area_m2" in r.stderr
    got = areas(fresh)
    assert all(got[i] is not None for i in range(1, 300)) and all(got[i] is None for i in range(300, 451))
    rec = records(fresh, "properties")[2]
    assert rec["state"] == "failed" and rec["direction"] == "up" and rec["progress"] == {"after_id": 299}
    assert "property 300" in rec["error"]
    r = fresh.migrate("status", "properties", check=False)
    assert r.returncode == 1 and "FAILED (up" in r.stdout and "property 300" in r.stdout
    assert '"after_id" : 299' in r.stdout.replace('":', '" :')

    # A worker started now is not ready, and says the step stopped.
    fresh.start_pool()
    fresh.start_ingress()
    fresh.migrate("up", "users")
    fresh.migrate("up", "places")
    fresh.migrate("up", "listings")
    fresh.migrate("up", "bookings")
    seen = []

    def names_the_stopped_step():
        seen.append(requests.get(fresh.url("/readyz"), timeout=5).text)
        return "which stopped before it was done" in seen[-1]

    try:
        wait_until(names_the_stopped_step, 30, "/readyz to name the stopped migration")
    except AssertionError as e:
        raise AssertionError(f"{e}; its last answers: {seen[-3:]}") from None

    # Repair the property; and, to see that the re-run resumes after 299
    # rather than starting over, take property 5's field away meanwhile.
    client = fresh.mongo()
    coll = client[fresh.prefix + "properties"]["properties"]
    coll.update_one({"_id": 300}, {"$set": {"rooms.0.area_m2": 12.0}})
    coll.update_one({"_id": 5}, {"$unset": {"living_area_m2": ""}})
    client.close()
    r = fresh.migrate("up", "properties")
    assert "properties: up 2 living_area (resuming where it stopped)" in r.stdout
    got = areas(fresh)
    assert got[5] is None  # before where it stopped: not read again
    assert got[300] == 12.0 and all(got[i] == 10.0 + i % 7 + 5.5 for i in range(301, 451))
    rec = records(fresh, "properties")[2]
    assert rec["state"] == "applied" and rec["attempts"] == 2 and "progress" not in rec and "error" not in rec
    assert [(e["version"], e["outcome"], e["resumed"]) for e in log(fresh, "properties")] == [
        (1, "done", False), (2, "failed", False), (2, "done", True), (3, "done", False), (4, "done", False),
        (5, "done", False), (6, "done", False), (7, "done", False), (8, "done", False),
        (9, "done", False)]
    wait_until(lambda: requests.get(fresh.url("/readyz"), timeout=5).status_code == 200, 10, "ready once resumed")


def test_concurrent_ups_apply_each_step_once(fresh):
    procs = [subprocess.Popen([os.path.join(BUILD, "tools", "roostctl"), "migrate", "up"], env=fresh.env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(5)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 5, outs
    for service in SERVICES:
        ups = [(e["version"], e["outcome"]) for e in log(fresh, service) if e["direction"] == "up"]
        assert sorted(ups) == [(v, "done") for v in range(1, VERSIONS[service] + 1)], (service, ups)
        assert all(r["state"] == "applied" for r in records(fresh, service).values())
    applied = sum(out.count(" done in ") for out, _ in outs)
    assert applied == sum(VERSIONS.values()), outs  # each step printed done once, by whoever ran it


def test_a_lock_whose_lease_ran_out_is_taken_over_and_a_live_one_is_waited_for(fresh):
    client = fresh.mongo()
    locks = client[fresh.prefix + "users"]["migration_locks"]
    now = time.time()
    import datetime
    past = datetime.datetime.fromtimestamp(now - 5, datetime.timezone.utc)
    locks.insert_one({"_id": 1, "by": "ghost:1", "expires_at": past, "released": False})
    fresh.migrate("up", "users")  # the dead runner's lock does not stop it
    assert [lk["_id"] for lk in locks.find().sort("_id", 1)] == [1, 2]
    future = datetime.datetime.fromtimestamp(now + 30, datetime.timezone.utc)
    locks.insert_one({"_id": 3, "by": "busy:7", "expires_at": future, "released": False})
    s = Stack(workers=1, db_uri=fresh.db_uri, env={"ROOST_MIGRATE_WAIT_S": "1"})
    s.prefix = fresh.prefix
    try:
        r = s.migrate("down", "users", check=False)
        assert r.returncode == 1
        assert "users: waiting while busy:7 runs its migrations" in r.stdout
        assert "busy:7 still holds the migrations of this database after 1 s" in r.stderr
        assert sorted(records(fresh, "users")) == [1]  # nothing reverted
    finally:
        s.stop()
    client.close()


def test_a_changed_migration_is_reported_and_refused(fresh):
    fresh.migrate("up")
    client = fresh.mongo()
    client[fresh.prefix + "places"]["migrations"].update_one({"_id": 1}, {"$set": {"checksum": "sha256:" + "0" * 64}})
    client.close()
    r = fresh.migrate("status", "places", check=False)
    assert r.returncode == 1 and "CHANGED since" in r.stdout
    client = fresh.mongo()
    client[fresh.prefix + "places"]["migrations"].delete_one({"_id": 1})
    client[fresh.prefix + "places"]["migrations"].insert_one(
        {"_id": 1, "name": "indexes", "checksum": "sha256:" + "0" * 64, "state": "applied", "direction": "up"})
    client.close()
    r = fresh.migrate("up", check=False)
    assert r.returncode == 1 and "an applied migration must not change" in r.stderr


@pytest.mark.parametrize("args, code, words", [
    ((), 2, "usage: roostctl migrate status"),
    (("sideways",), 2, "usage:"),
    (("down",), 2, "usage:"),  # down needs its service
    (("down", "all"), 2, "usage:"),
    (("up", "nosuch"), 2, "'nosuch' is not a service with migrations"),
    (("up", "all", "1"), 2, "TARGET is a version number and needs one SERVICE"),
    (("up", "users", "x"), 2, "TARGET is a version number"),
    (("up", "users", "-1"), 2, "TARGET is a version number"),
    (("up", "users", "+1"), 2, "TARGET is a version number"),
    (("up", "users", " 1"), 2, "TARGET is a version number"),
    (("up", "users", ""), 2, "TARGET is a version number"),
    (("up", "users", "99999999999999999999"), 2, "TARGET is a version number"),
    (("up", "users", "9"), 2, "users has versions 1 to 1: up takes a TARGET from 1 to 1"),
    (("up", "users", "0"), 2, "users has versions 1 to 1: up takes a TARGET from 1 to 1"),
    (("down", "properties", "10"), 2, "properties has versions 1 to 9: down takes a TARGET from 0 to 9"),
    (("status", "users", "1"), 2, "usage:"),
    (("wait", "users", "1"), 2, "usage:"),
])
def test_bad_command_lines_are_refused_and_change_nothing(fresh, args, code, words):
    r = fresh.migrate(*args, check=False) if args else fresh.roostctl("migrate")
    assert r.returncode == code and words in r.stderr, (r.returncode, r.stdout, r.stderr)
    assert indexes(fresh) == {} and all(records(fresh, s) == {} for s in SERVICES)


def test_a_runner_that_lost_its_lease_writes_nothing_after_the_takeover(fresh):
    """A runner paused past its lease (SIGSTOP here; a suspended VM, a
    network stall) finds the database taken over when it resumes: it
    leaves the record, the log and the data to the runner that took over,
    but for the one write it may have had in flight."""
    import signal
    fresh.migrate("up", "properties", "1")
    raw_properties(fresh, 6000)
    env = dict(fresh.env(), ROOST_MIGRATE_LEASE_S="1")
    a = subprocess.Popen([os.path.join(BUILD, "tools", "roostctl"), "migrate", "up", "properties"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: records(fresh, "properties").get(2, {}).get("state") == "applying", 20,
                   "the first runner to start the backfill")
        a.send_signal(signal.SIGSTOP)
        time.sleep(1.2)  # its lease runs out
        b = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), "migrate", "down", "properties", "1"],
                           env=env, capture_output=True, text=True, timeout=60)
        assert b.returncode == 0, (b.stdout, b.stderr)
    finally:
        a.send_signal(signal.SIGCONT)
    out, err = a.communicate(timeout=60)
    assert a.returncode == 1 and "another runner took the migrations over" in err, (out, err)
    # The down stands: no record of 2, no log entry of the stale runner's;
    # of the data, at most the one write it had in flight when it was paused
    # (checked, then sent: no update here can be conditional on the lock).
    assert sorted(records(fresh, "properties")) == [1]
    assert sum(v is not None for v in areas(fresh).values()) <= 1
    assert [(e["version"], e["direction"], e["outcome"]) for e in log(fresh, "properties")][-1] == \
        (2, "down", "done")


def test_junk_in_the_lock_collection_neither_blocks_nor_spins(fresh):
    client = fresh.mongo()
    client[fresh.prefix + "users"]["migration_locks"].insert_one({"_id": "junk", "expires_at": "tomorrow"})
    client.close()
    fresh.migrate("up", "users")
    fresh.migrate("up", "users")  # and again, with its own generation 1 there
    assert sorted(records(fresh, "users")) == [1]


def test_wait_returns_once_every_version_is_applied(fresh):
    env = dict(fresh.env(), ROOST_MIGRATE_WAIT_S="20")
    w = subprocess.Popen([os.path.join(BUILD, "tools", "roostctl"), "migrate", "wait", "users"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    assert w.poll() is None  # still waiting
    fresh.migrate("up", "users")
    out, err = w.communicate(timeout=20)
    assert w.returncode == 0 and "users: waiting: the users database is at migration 0" in out and \
        "up to date" in out, (out, err)
    # A version changed since it was applied: status says so; wait and the workers go on.
    client = fresh.mongo()
    client[fresh.prefix + "users"]["migrations"].update_one({"_id": 1}, {"$set": {"checksum": "sha256:old"}})
    client.close()
    r = fresh.migrate("status", "users", check=False)
    assert r.returncode == 1 and "CHANGED after it was applied" in r.stdout and "run `roostctl" not in r.stdout
    assert fresh.migrate("wait", "users").returncode == 0
    r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), "migrate", "wait", "properties"],
                       env=dict(fresh.env(), ROOST_MIGRATE_WAIT_S="0"), capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and "properties is still not up to date after 0 s" in r.stderr


@pytest.mark.parametrize("args", [["--help"], ["-h"], ["migrate", "--help"], ["migrate", "up", "--help"],
                                  ["seed", "--help"], ["call", "--help"]])
def test_help_is_a_question_not_a_mistake(args):
    """--help anywhere in roostctl prints the usage on stdout and exits 0
    (a usage error still goes to stderr with 2)."""
    r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), *args], capture_output=True, text=True, timeout=15)
    assert r.returncode == 0 and r.stdout.startswith("usage: roostctl") and r.stderr == "", (args, r)
    if args[0] != "call":  # `call --bogus` is a call of an op named --bogus
        r = subprocess.run([os.path.join(BUILD, "tools", "roostctl"), *args[:-1], "--bogus"], capture_output=True,
                           text=True, timeout=15)
        assert r.returncode == 2 and "usage: roostctl" in r.stderr, (args, r)
