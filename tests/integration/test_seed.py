"""roostctl seed: made through the ops, deterministic, and safe to run again."""
import requests

from roost_stack import Stack

ARGS = ["seed", "--seed", "7", "--places", "3", "--users", "5", "--properties", "6", "--listings", "4", "--photos", "2",
        "--quiet"]
COLLECTIONS = [("places", "places"), ("users", "users"), ("properties", "properties"), ("listings", "listings")]


def snapshot(stack):
    db = stack.mongo()
    try:
        counts = {svc: db[stack.prefix + svc][coll].count_documents({}) for svc, coll in COLLECTIONS}
        names = (sorted(u["username"] for u in db[stack.prefix + "users"]["users"].find()),
                 sorted(p["name"] for p in db[stack.prefix + "places"]["places"].find()),
                 sorted(p["name"] for p in db[stack.prefix + "properties"]["properties"].find()),
                 sorted((l["listing_type"], l["price"]) for l in db[stack.prefix + "listings"]["listings"].find()),
                 sorted(f["metadata"]["sha256"] for f in db[stack.prefix + "properties"]["media.files"].find()))
        return counts, names
    finally:
        db.close()


def seeded_stack():
    s = Stack(workers=1)
    s.start()
    r = s.roostctl(*ARGS, timeout=120)
    assert r.returncode == 0, r.stderr
    return s


def test_seed_makes_what_was_asked_and_a_second_run_adds_nothing():
    s = seeded_stack()
    try:
        counts, names = snapshot(s)
        assert counts == {"places": 3, "users": 5, "properties": 6, "listings": 4}
        assert len(names[4]) == 12  # two drawn photos a property, each a GridFS file
        r = s.roostctl(*ARGS, timeout=120)
        assert r.returncode == 0, r.stderr
        assert snapshot(s) == (counts, names)
        # Seeded users can log in, and the data is linked: properties belong to seeded users.
        db = s.mongo()
        owners = {p["owner_id"] for p in db[s.prefix + "properties"]["properties"].find()}
        users = {u["_id"] for u in db[s.prefix + "users"]["users"].find()}
        photos = [p["photos"] for p in db[s.prefix + "properties"]["properties"].find()]
        db.close()
        assert owners <= users
        assert all(len(ph) == 2 and ph[0]["width"] == 640 and ph[0]["caption"] == "Photo 1" for ph in photos), photos
        # The browse page can show them: the bytes are there, as JPEG.
        got = requests.get(s.url(f"/media/{photos[0][0]['id']}?w=320"), timeout=10)
        assert got.status_code == 200 and got.headers["Content-Type"] == "image/jpeg" and got.content[:2] == b"\xff\xd8"
    finally:
        s.stop()


def test_the_same_seed_gives_the_same_data():
    a, b = seeded_stack(), None
    try:
        b = seeded_stack()
        assert snapshot(a)[1] == snapshot(b)[1]
    finally:
        a.stop()
        if b is not None:
            b.stop()


def test_bad_arguments_are_refused():
    s = Stack(workers=1, db_uri="mongodb://127.0.0.1:1")  # never started: the arguments are refused first
    try:
        for args in (["seed", "--users", "-1"], ["seed", "--places"], ["seed", "--bogus", "1"],
                     ["seed", "--users", "0", "--properties", "2"], ["seed", "--photos", "11"],
                     ["seed", "--photos", "-1"]):
            r = s.roostctl(*args, timeout=20)
            assert r.returncode == 2, (args, r.stderr)
    finally:
        s.stop()
