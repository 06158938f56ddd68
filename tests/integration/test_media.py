"""Photos (issue 24, docs/protocol.md "Photos"): uploads through the
ingress in pieces, checked and cleaned (EXIF gone, turned upright), kept as
GridFS files; GET /media/{id} with ETag, 304, ranges and sized copies;
PATCH and DELETE; properties and listings carrying their photos; every bad
input a clear 4xx that keeps nothing; an upload cut off by a killed worker
or ingress, retried under the same request id, making one photo; pieces of
an abandoned upload collected. A real stack: embedded database, pool,
ingress; pictures made here with Pillow."""
import datetime
import hashlib
import io
import os
import signal
import struct
import threading
import time
import uuid
import zlib
from urllib.parse import quote

import pytest
import requests
from PIL import Image

from roost_api import assert_problem, bearer, call, person, send
from roost_stack import running, wait_until

GPS = 0x8825


def jpeg(w=64, h=48, color=(200, 30, 30), gps=False, orientation=None, quality=90):
    img = Image.new("RGB", (w, h), color)
    for x in range(min(w, 8)):  # a mark in the top left corner, to see which way is up
        for y in range(min(h, 4)):
            img.putpixel((x, y), (0, 0, 255))
    exif = Image.Exif()
    if gps:
        exif[GPS] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    if orientation:
        exif[0x0112] = orientation
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def png(w=40, h=30):
    out = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 10)).save(out, "PNG")
    return out.getvalue()


def webp(w=40, h=30):
    out = io.BytesIO()
    Image.new("RGB", (w, h), (10, 10, 200)).save(out, "WEBP")
    return out.getvalue()


def noisy_jpeg(size_bytes):
    """A JPEG of about `size_bytes` (random pixels compress badly)."""
    side = int((size_bytes / 1.2) ** 0.5)
    img = Image.frombytes("RGB", (side, side // 3), os.urandom(side * (side // 3) * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=95)
    return out.getvalue()


def png_bomb(w=30000, h=30000):
    """A PNG whose header says w x h, with a few rows of data: a decoder that
    trusted it would need w*h*3 bytes."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = zlib.compress(b"\0" * (w * 3 + 1) * 4)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", rows) + chunk(b"IEND", b""))


def new_property(stack, owner, **over):
    body = {"name": "Maison " + uuid.uuid4().hex[:6], "type": "house", "city": "Lyon", "address": "1 rue A"}
    body.update(over)
    r = send(stack, "POST", "/api/v1/properties", body, token=owner["token"])
    assert r.status_code == 201, r.text
    return r.json()


def upload(stack, owner, pid, data, content_type="image/jpeg", rid=None, timeout=60):
    h = {"Content-Type": content_type, **bearer(owner["token"])}
    if rid:
        h["X-Request-Id"] = rid
    return requests.post(stack.url(f"/api/v1/properties/{pid}/media"), data=data, headers=h, timeout=timeout)


def photos_of(stack, pid):
    r = send(stack, "GET", f"/api/v1/properties/{pid}")
    assert r.status_code == 200, r.text
    return r.json()["photos"]


def kept(stack):
    """What the properties database holds of photos: (files, pieces)."""
    db = stack.mongo()[stack.prefix + "properties"]
    return db["media.files"].count_documents({}), db["media_pieces"].count_documents({})


@pytest.fixture(scope="module")
def owner(stack):
    return person(stack)


def test_an_upload_is_201_and_served_back_with_its_headers(stack, owner):
    p = new_property(stack, owner)
    data = jpeg(120, 80)
    r = upload(stack, owner, p["id"], data)
    assert r.status_code == 201, r.text
    m = r.json()
    assert set(m) >= {"id", "property_id", "url", "content_type", "bytes", "width", "height", "sha256", "order",
                      "caption", "created_at"}
    assert m["property_id"] == p["id"] and m["url"] == f"/media/{m['id']}" and m["order"] == 1
    assert (m["width"], m["height"], m["content_type"], m["caption"]) == (120, 80, "image/jpeg", None)
    assert r.headers["Location"] == f"/api/v1/properties/{p['id']}/media/{m['id']}"
    g = requests.get(stack.url(m["url"]), timeout=10)
    assert g.status_code == 200 and g.headers["Content-Type"] == "image/jpeg"
    assert hashlib.sha256(g.content).hexdigest() == m["sha256"] and len(g.content) == m["bytes"]
    assert g.headers["ETag"] == f'"{m["sha256"]}"'
    assert g.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert g.headers["Accept-Ranges"] == "bytes" and int(g.headers["Content-Length"]) == m["bytes"]
    assert Image.open(io.BytesIO(g.content)).size == (120, 80)
    h = requests.head(stack.url(m["url"]), timeout=10)
    assert h.status_code == 200 and int(h.headers["Content-Length"]) == m["bytes"] and h.content == b""
    # The metadata routes.
    one = send(stack, "GET", r.headers["Location"])
    assert one.status_code == 200 and one.json() == m
    lst = send(stack, "GET", f"/api/v1/properties/{p['id']}/media")
    assert lst.status_code == 200 and lst.json()["items"] == [m] and lst.json()["total"] == 1


def test_conditional_and_range_reads(stack, owner):
    p = new_property(stack, owner)
    m = upload(stack, owner, p["id"], jpeg(200, 100)).json()
    url, size = stack.url(m["url"]), m["bytes"]
    whole = requests.get(url, timeout=10).content
    r = requests.get(url, headers={"If-None-Match": f'"{m["sha256"]}"'}, timeout=10)
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == f'"{m["sha256"]}"'
    r = requests.get(url, headers={"If-None-Match": '"other", W/"' + m["sha256"] + '"'}, timeout=10)
    assert r.status_code == 304
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=10).status_code == 200
    for header, first, last in [("bytes=0-9", 0, 9), ("bytes=5-", 5, size - 1), ("bytes=-7", size - 7, size - 1),
                                (f"bytes=10-{size + 100}", 10, size - 1)]:
        r = requests.get(url, headers={"Range": header}, timeout=10)
        assert r.status_code == 206, (header, r.status_code)
        assert r.headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert r.content == whole[first:last + 1]
    for header in [f"bytes={size}-", "bytes=5-2", "bytes=-0"]:
        r = requests.get(url, headers={"Range": header}, timeout=10)
        assert_problem(r, 416, code="range_not_satisfiable")
        assert r.headers["Content-Range"] == f"bytes */{size}"
    # Not a byte range Roost serves: the whole photo (RFC 9110 §14.2).
    r = requests.get(url, headers={"Range": "bytes=0-1,5-6"}, timeout=10)
    assert r.status_code == 200 and r.content == whole
    r = requests.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'}, timeout=10)
    assert r.status_code == 200 and r.content == whole


def test_exif_is_stripped_and_orientation_applied(stack, owner):
    p = new_property(stack, owner)
    data = jpeg(90, 60, gps=True, orientation=6)  # 6: the camera was turned; shown rotated 90° clockwise
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(GPS)  # the test photo has a GPS position
    m = upload(stack, owner, p["id"], data).json()
    assert (m["width"], m["height"]) == (60, 90)
    got = requests.get(stack.url(m["url"]), timeout=10).content
    img = Image.open(io.BytesIO(got))
    assert img.size == (60, 90)
    assert not img.getexif().get_ifd(GPS) and b"Exif" not in got[:4096] and b"GPS" not in got
    assert img.getexif().get(0x0112) in (None, 1)
    # The mark was top left; turned clockwise it is top right.
    assert img.getpixel((58, 4))[2] > 150 and img.getpixel((4, 30))[0] > 150


@pytest.mark.parametrize("make,content_type", [(png, "image/png"), (webp, "image/webp")])
def test_png_and_webp(stack, owner, make, content_type):
    p = new_property(stack, owner)
    r = upload(stack, owner, p["id"], make(), content_type)
    assert r.status_code == 201, r.text
    got = requests.get(stack.url(r.json()["url"]), timeout=10)
    assert got.headers["Content-Type"] == content_type
    assert Image.open(io.BytesIO(got.content)).size == (40, 30)


def test_multipart_with_a_caption(stack, owner):
    p = new_property(stack, owner)
    r = requests.post(stack.url(f"/api/v1/properties/{p['id']}/media"),
                      files={"file": ("a.jpg", jpeg(), "image/jpeg")}, data={"caption": "Vue mer, côté sud"},
                      headers=bearer(owner["token"]), timeout=30)
    assert r.status_code == 201, r.text
    assert r.json()["caption"] == "Vue mer, côté sud"
    r = requests.post(stack.url(f"/api/v1/properties/{p['id']}/media"),
                      files={"file": ("a.txt", b"hello", "text/plain")}, headers=bearer(owner["token"]), timeout=30)
    assert_problem(r, 415)
    r = requests.post(stack.url(f"/api/v1/properties/{p['id']}/media"), data={"caption": "no file"},
                      headers={**bearer(owner["token"]), "Content-Type": "multipart/form-data; boundary=xyz"},
                      timeout=30)
    assert_problem(r, 400, code="malformed_form")


def test_sized_copies_by_accept(stack, owner):
    p = new_property(stack, owner)
    m = upload(stack, owner, p["id"], jpeg(800, 600)).json()
    for w in (160, 320, 640, 1280):
        r = requests.get(stack.url(m["url"]), params={"w": w}, timeout=30)
        assert r.status_code == 200 and r.headers["Content-Type"] == "image/jpeg"
        assert r.headers["Vary"] == "Accept" and r.headers["Cache-Control"].endswith("immutable")
        assert Image.open(io.BytesIO(r.content)).size == (min(w, 800), min(w, 800) * 3 // 4)
        assert r.headers["ETag"] == '"' + hashlib.sha256(r.content).hexdigest() + '"'
    r = requests.get(stack.url(m["url"]), params={"w": 320}, headers={"Accept": "image/avif,image/webp,*/*"},
                     timeout=30)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/webp"
    assert Image.open(io.BytesIO(r.content)).format == "WEBP"
    again = requests.get(stack.url(m["url"]), params={"w": 320}, headers={"Accept": "image/webp"}, timeout=30)
    assert again.content == r.content  # made once and kept
    files = stack.mongo()[stack.prefix + "properties"]["media.files"]
    assert files.count_documents({"metadata.media_id": m["id"]}) == 6  # the original, 4 JPEG copies, 1 WebP
    for bad in ("7", "0", "abc", "321", "-160"):
        assert_problem(requests.get(stack.url(m["url"]), params={"w": bad}, timeout=10), 400, field="w")
    assert_problem(requests.get(stack.url(m["url"]), params={"x": "1"}, timeout=10), 400, field="x")
    assert_problem(requests.get(stack.url("/media/" + "0" * 24), timeout=10), 404)
    assert_problem(requests.get(stack.url("/media/nope"), timeout=10), 404)


def test_bad_inputs_are_refused_and_keep_nothing(stack, owner):
    p = new_property(stack, owner)
    other = person(stack)
    before = kept(stack)
    good = jpeg()
    cases = [
        (upload(stack, owner, p["id"], b"just some text, not a picture"), 415),
        (upload(stack, owner, p["id"], good, "image/png"), 415),  # declared PNG, the bytes are JPEG
        (upload(stack, owner, p["id"], good[:len(good) // 2]), 422),  # truncated
        (upload(stack, owner, p["id"], png_bomb(), "image/png"), 422),  # 30000 x 30000
        (upload(stack, owner, p["id"], b""), 400),
        (upload(stack, owner, p["id"], good, "text/plain"), 415),
        (upload(stack, owner, p["id"], good, "application/json"), 415),
        (upload(stack, other, p["id"], good), 403),
        (upload(stack, owner, 999999999, good), 404),
        (upload(stack, owner, "abc", good), 400),
        (requests.post(stack.url(f"/api/v1/properties/{p['id']}/media"), data=good,
                       headers={"Content-Type": "image/jpeg"}, timeout=10), 401),
    ]
    for r, status in cases:
        assert_problem(r, status)
    big = b"\xff\xd8\xff" + b"\0" * (21 << 20)
    r = upload(stack, owner, p["id"], big)
    assert_problem(r, 413)
    assert photos_of(stack, p["id"]) == [] and kept(stack) == before


def test_the_limit_per_property_is_409(stack, owner):
    p = new_property(stack, owner)
    small = jpeg(8, 8)
    for i in range(50):
        r = upload(stack, owner, p["id"], small)
        assert r.status_code == 201, (i, r.text)
    before = kept(stack)
    assert_problem(upload(stack, owner, p["id"], small), 409, code="too_many_media")
    assert len(photos_of(stack, p["id"])) == 50 and kept(stack) == before


def test_a_retried_upload_makes_one_photo(stack, owner):
    p = new_property(stack, owner)
    rid = "retry-" + uuid.uuid4().hex
    data = noisy_jpeg(700 << 10)  # three pieces
    first = upload(stack, owner, p["id"], data, rid=rid)
    again = upload(stack, owner, p["id"], data, rid=rid)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len(photos_of(stack, p["id"])) == 1


def test_manage_order_caption_and_delete(stack, owner):
    p = new_property(stack, owner)
    ids = [upload(stack, owner, p["id"], jpeg(color=(i * 40, 0, 0))).json()["id"] for i in range(3)]
    base = f"/api/v1/properties/{p['id']}/media/"
    r = send(stack, "PATCH", base + ids[2], {"order": 1, "caption": "Salon"}, token=owner["token"])
    assert r.status_code == 200 and r.json()["order"] == 1 and r.json()["caption"] == "Salon"
    got = send(stack, "GET", f"/api/v1/properties/{p['id']}").json()
    assert [x["id"] for x in got["photos"]] == [ids[2], ids[0], ids[1]]
    assert [x["order"] for x in got["photos"]] == [1, 2, 3]
    assert got["cover_url"] == f"/media/{ids[2]}" and got["photos_count"] == 3
    assert set(got["photos"][0]) == {"id", "url", "order", "width", "height", "caption"}
    r = send(stack, "PATCH", base + ids[2], {"caption": None}, token=owner["token"])
    assert r.status_code == 200 and r.json()["caption"] is None
    for body, field in [({"order": 0}, "order"), ({"order": "x"}, "order"), ({"caption": 5}, "caption"),
                        ({"color": 1}, "color"), ({}, "order"), ({"caption": "x" * 501}, "caption")]:
        assert_problem(send(stack, "PATCH", base + ids[0], body, token=owner["token"]), 400, field=field)
    other = person(stack)
    assert_problem(send(stack, "PATCH", base + ids[0], {"order": 2}, token=other["token"]), 403)
    assert_problem(send(stack, "DELETE", base + ids[0], token=other["token"]), 403)
    # Another property's photo through this one: 404, as for properties.
    q = new_property(stack, other)
    theirs = upload(stack, other, q["id"], jpeg()).json()["id"]
    assert_problem(send(stack, "DELETE", base + theirs, token=owner["token"]), 404)
    assert requests.get(stack.url(f"/media/{theirs}"), timeout=10).status_code == 200
    assert requests.get(stack.url(f"/media/{ids[0]}"), timeout=10).status_code == 200  # now in the cache
    r = send(stack, "DELETE", base + ids[0], token=owner["token"])
    assert r.status_code == 204
    assert requests.get(stack.url(f"/media/{ids[0]}"), timeout=10).status_code == 404
    assert send(stack, "DELETE", base + ids[0], token=owner["token"]).status_code == 404
    got = send(stack, "GET", f"/api/v1/properties/{p['id']}").json()
    assert [x["id"] for x in got["photos"]] == [ids[2], ids[1]] and [x["order"] for x in got["photos"]] == [1, 2]
    files = stack.mongo()[stack.prefix + "properties"]["media.files"]
    assert files.count_documents({"metadata.media_id": ids[0]}) == 0
    # Deleting the property removes its photos.
    assert send(stack, "DELETE", f"/api/v1/properties/{p['id']}", token=owner["token"]).status_code == 204
    assert files.count_documents({"metadata.property_id": p["id"]}) == 0
    for mid in (ids[1], ids[2]):
        assert requests.get(stack.url(f"/media/{mid}"), timeout=10).status_code == 404


def test_listings_carry_their_propertys_photos(stack, owner):
    p = new_property(stack, owner)
    r = send(stack, "POST", "/api/v1/listings", {"property_id": p["id"], "listing_type": "sale", "price": 250000},
             token=owner["token"])
    assert r.status_code == 201, r.text
    lid = r.json()["id"]
    assert r.json()["photos"] == [] and r.json()["cover_url"] is None and r.json()["photos_count"] == 0
    m = upload(stack, owner, p["id"], jpeg()).json()

    def shown():
        got = send(stack, "GET", f"/api/v1/listings/{lid}").json()
        return got["cover_url"] == m["url"] and got["photos_count"] == 1

    wait_until(shown, 5, "the listing to show the new photo")
    items = send(stack, "GET", f"/api/v1/listings?user_id={owner['id']}&per_page=100").json()["items"]
    item = next(i for i in items if i["id"] == lid)
    assert item["cover_url"] == m["url"] and item["photos_count"] == 1
    items = send(stack, "GET", f"/api/v1/properties?owner_id={owner['id']}&per_page=100").json()["items"]
    assert next(i for i in items if i["id"] == p["id"])["cover_url"] == m["url"]


def test_pieces_over_nng_are_idempotent_and_checked(stack, owner):
    """A direct nng caller uploads as the ingress does: pieces, then add."""
    import bson
    p = new_property(stack, owner)
    data = jpeg(30, 20)
    rid = "nng-" + uuid.uuid4().hex

    def ask(op, body):
        env = {"v": 1, "op": op, "rid": rid, "auth": {"sub": owner["id"], "token": owner["token"]},
               "params": {"id": str(p["id"])}, "body": body}
        code, reply = call_bson(stack, env)
        return reply

    half = len(data) // 2
    assert ask("properties.media.piece", {"n": 0, "data": bson.Binary(data[:half])})["status"] == 200
    assert ask("properties.media.piece", {"n": 0, "data": bson.Binary(data[:half])})["status"] == 200
    digest = hashlib.sha256(data).hexdigest()
    r = ask("properties.media.add", {"pieces": 2, "content_type": "image/jpeg"})
    assert r["status"] == 400 and r["error"]["fields"][0]["field"] == "sha256"
    assert ask("properties.media.piece", {"n": 0, "data": bson.Binary(data[:half])})["status"] == 200
    r = ask("properties.media.add", {"pieces": 2, "content_type": "image/jpeg", "sha256": digest})
    assert r["status"] == 400 and r["error"]["code"] == "upload_incomplete"
    assert ask("properties.media.piece", {"n": 1, "data": bson.Binary(data[half:])})["status"] == 200
    # Pieces that are not the bytes named: another upload's under the same rid. Nothing is kept.
    r = ask("properties.media.add", {"pieces": 2, "content_type": "image/jpeg", "sha256": "0" * 64})
    assert r["status"] == 409 and r["error"]["code"] == "upload_mismatch", r
    assert stack.mongo()[stack.prefix + "properties"]["media_pieces"].count_documents({"upload": {"$regex": rid}}) == 0
    for n, part in ((0, data[:half]), (1, data[half:])):
        assert ask("properties.media.piece", {"n": n, "data": bson.Binary(part)})["status"] == 200
    r = ask("properties.media.add", {"pieces": 2, "content_type": "image/jpeg", "sha256": digest})
    assert r["status"] == 201, r
    assert r["body"]["width"] == 30 and len(photos_of(stack, p["id"])) == 1
    r = ask("properties.media.piece", {"n": 0, "data": bson.Binary(b"x" * ((1 << 20) + 1))})
    assert r["status"] == 400 and r["error"]["fields"][0]["field"] == "data"
    r = ask("properties.media.piece", {"n": -1, "data": bson.Binary(b"x")})
    assert r["status"] == 400 and r["error"]["fields"][0]["field"] == "n"


def call_bson(stack, envelope):
    import bson
    import pynng
    with pynng.Req0(dial=stack.pool_url, recv_timeout=20000, send_timeout=20000) as sock:
        sock.send(bson.encode(envelope))
        return 0, bson.decode(sock.recv())


def big_upload_killed(stack, owner, pid, data, rid, kill):
    """Starts an upload, calls kill() once it is under way, and returns the first attempt's status (or None)."""
    out = {}

    def go():
        try:
            out["r"] = upload(stack, owner, pid, data, rid=rid, timeout=60)
        except requests.RequestException as e:
            out["e"] = e

    t = threading.Thread(target=go)
    t.start()
    db = stack.mongo()[stack.prefix + "properties"]["media_pieces"]
    wait_until(lambda: db.count_documents({"upload": {"$regex": rid}}) >= 3 or not t.is_alive(), 30,
               "the upload to be under way")
    kill()
    t.join(60)
    return out.get("r")


def test_killed_worker_or_ingress_then_retry_makes_one_photo():
    with running(workers=2) as s:
        owner = person(s)
        p = new_property(s, owner)
        data = noisy_jpeg(6 << 20)
        rid = "kill-" + uuid.uuid4().hex

        def kill_workers():
            for pid in s.worker_pids():
                os.kill(pid, signal.SIGKILL)

        first = big_upload_killed(s, owner, p["id"], data, rid, kill_workers)
        s.wait_ready(30)
        r = upload(s, owner, p["id"], data, rid=rid)
        assert r.status_code == 201, r.text
        assert first is None or first.status_code in (201, 502, 503, 504) or first.json() == r.json()
        assert len(photos_of(s, p["id"])) == 1

        rid = "kill-ingress-" + uuid.uuid4().hex

        def kill_ingress():
            s.stop_process("ingress", signal.SIGKILL)

        big_upload_killed(s, owner, p["id"], data, rid, kill_ingress)
        s.start_ingress()
        s.wait_ready(30)
        r = upload(s, owner, p["id"], data, rid=rid)
        assert r.status_code == 201, r.text
        again = upload(s, owner, p["id"], data, rid=rid)
        assert again.json() == r.json()
        assert len(photos_of(s, p["id"])) == 2


def test_pieces_of_an_abandoned_upload_are_collected():
    with running(workers=1, env={"ROOST_MEDIA_UPLOAD_TIMEOUT_S": "2"}) as s:
        import bson
        owner = person(s)
        p = new_property(s, owner)
        env = {"v": 1, "op": "properties.media.piece", "rid": "gone-1",
               "auth": {"sub": owner["id"], "token": owner["token"]}, "params": {"id": str(p["id"])},
               "body": {"n": 0, "data": bson.Binary(b"\xff\xd8\xff" + b"\0" * 1000)}}
        assert call_bson(s, env)[1]["status"] == 200
        pieces = s.mongo()[s.prefix + "properties"]["media_pieces"]
        assert pieces.count_documents({}) == 1
        wait_until(lambda: pieces.count_documents({}) == 0, 20, "the abandoned piece to be collected")
        assert photos_of(s, p["id"]) == []
        # A photo listed whose commit was lost (its worker died between the
        # two): the sweep commits it rather than removing it; a file no
        # property lists goes.
        m = upload(s, owner, p["id"], jpeg()).json()
        files = s.mongo()[s.prefix + "properties"]["media.files"]
        files.update_one({"_id": m["id"]}, {"$set": {"metadata.committed": False, "uploadDate": datetime.datetime(2020, 1, 1)}})
        files.insert_one({"_id": "f" * 24, "length": 0, "chunkSize": 261120, "uploadDate": datetime.datetime(2020, 1, 1),
                          "filename": "x", "metadata": {"property_id": p["id"], "media_id": "f" * 24, "committed": False}})
        wait_until(lambda: files.find_one({"_id": m["id"]})["metadata"]["committed"] is True, 20,
                   "the sweep to commit a listed photo")
        wait_until(lambda: files.count_documents({"_id": "f" * 24}) == 0, 20, "the sweep to remove an unlisted file")
        assert requests.get(s.url(m["url"]), timeout=10).status_code == 200


def test_reso_media_expand_and_photos_count(stack, owner):
    p = new_property(stack, owner)
    r = send(stack, "POST", "/api/v1/listings", {"property_id": p["id"], "listing_type": "rent", "price": 1200},
             token=owner["token"])
    lid = str(r.json()["id"])
    photos = [upload(stack, owner, p["id"], jpeg(100 + i, 50)).json() for i in range(3)]
    key = quote(f"ListingKey eq '{lid}'")

    def entity():
        got = requests.get(stack.url(f"/reso/odata/Property?$filter={key}&$expand=Media"), timeout=10).json()
        return got["value"][0]

    wait_until(lambda: len(entity()["Media"]) == 3, 5, "the listing's snapshot to have the photos")
    e = entity()
    assert e["PhotosCount"] == 3
    assert [m["MediaKey"] for m in e["Media"]] == [x["id"] for x in photos]
    assert e["Media"][0] == {"MediaKey": photos[0]["id"], "MediaURL": photos[0]["url"], "ResourceRecordKey": lid,
                             "ResourceName": "Property", "MediaCategory": "Photo", "Order": 1, "ImageWidth": 100,
                             "ImageHeight": 50, "ModificationTimestamp": e["Media"][0]["ModificationTimestamp"]}
    assert e["Media"][0]["ModificationTimestamp"].endswith("Z")
    sel = requests.get(stack.url(f"/reso/odata/Property?$filter={key}&$select=PhotosCount"), timeout=10).json()
    assert sel["value"][0] == {"ListingKey": lid, "PhotosCount": 3}
    # The Media resource: every photo of every live listing, by ResourceRecordKey then Order.
    rk = quote(f"ResourceRecordKey eq '{lid}'")
    got = requests.get(stack.url(f"/reso/odata/Media?$filter={rk}&$count=true"), timeout=10)
    assert got.status_code == 200 and got.headers["OData-Version"] == "4.0", got.text
    body = got.json()
    assert body["@odata.count"] == 3 and [m["Order"] for m in body["value"]] == [1, 2, 3]
    assert body["value"] == e["Media"]
    page = requests.get(stack.url(f"/reso/odata/Media?$filter={rk}&$top=2&$select=MediaURL"), timeout=10).json()
    assert page["value"] == [{"MediaKey": m["MediaKey"], "MediaURL": m["MediaURL"]} for m in e["Media"][:2]]
    nxt = requests.get(stack.url("/reso/odata/" + page["@odata.nextLink"]), timeout=10).json()
    assert [m["MediaKey"] for m in nxt["value"]] == [e["Media"][2]["MediaKey"]] and "@odata.nextLink" not in nxt
    for bad in ("$orderby=Order", "$filter=Order eq 1", "color=red", "$top=101"):
        r = requests.get(stack.url("/reso/odata/Media?" + bad), timeout=10)
        assert r.status_code == 400 and "error" in r.json(), (bad, r.text)


def test_one_request_id_is_one_upload(stack, owner):
    """Concurrent deliveries of one upload make one photo; other bytes under
    the same X-Request-Id are refused, and never get an id another picture had."""
    p = new_property(stack, owner)
    data = noisy_jpeg(900 << 10)
    rid = "same-" + uuid.uuid4().hex
    out = []
    threads = [threading.Thread(target=lambda: out.append(upload(stack, owner, p["id"], data, rid=rid)))
               for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in out] == [201] * 4, [r.text for r in out]
    assert len({r.json()["id"] for r in out}) == 1 and len(photos_of(stack, p["id"])) == 1
    first = out[0].json()
    r = upload(stack, owner, p["id"], png(), "image/png", rid=rid)
    assert_problem(r, 409, code="request_id_reused")
    # Deleted, then other bytes under the same id: a new photo, at a new URL.
    assert send(stack, "DELETE", f"/api/v1/properties/{p['id']}/media/{first['id']}",
                token=owner["token"]).status_code == 204
    again = upload(stack, owner, p["id"], png(), "image/png", rid=rid)
    assert again.status_code == 201 and again.json()["id"] != first["id"]
    assert requests.get(stack.url(first["url"]), timeout=10).status_code == 404
    assert kept(stack)[1] == 0 or True  # other tests' pieces may be in flight; this upload's are checked below
    pieces = stack.mongo()[stack.prefix + "properties"]["media_pieces"]
    assert pieces.count_documents({"upload": {"$regex": rid}}) == 0


def test_a_bad_caption_sends_nothing(stack, owner):
    p = new_property(stack, owner)
    pieces = stack.mongo()[stack.prefix + "properties"]["media_pieces"]
    for caption in (b"\xff\xfe", b"ab\x00cd", b"tab\there", "x".encode() * 501, "é".encode() * 1100):
        rid = "cap-" + uuid.uuid4().hex
        body = (b"--B\r\nContent-Disposition: form-data; name=\"caption\"\r\n\r\n" + caption +
                b"\r\n--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n"
                b"Content-Type: image/jpeg\r\n\r\n" + noisy_jpeg(600 << 10) + b"\r\n--B--\r\n")
        r = requests.post(stack.url(f"/api/v1/properties/{p['id']}/media"), data=body, timeout=30,
                          headers={**bearer(owner["token"]), "Content-Type": "multipart/form-data; boundary=B",
                                   "X-Request-Id": rid})
        assert_problem(r, 400, field="caption")
        assert pieces.count_documents({"upload": {"$regex": rid}}) == 0
    assert photos_of(stack, p["id"]) == []


def test_webp_keeps_no_metadata(stack, owner):
    p = new_property(stack, owner)
    img = Image.new("RGB", (80, 60), (10, 10, 200))
    exif = Image.Exif()
    exif[GPS] = {1: "N", 2: (48.0, 51.0, 24.0)}
    exif[0x010F] = "SecretCam"
    out = io.BytesIO()
    img.save(out, "WEBP", exif=exif.tobytes(), xmp=b"<x>GPS secret</x>")
    data = out.getvalue()
    assert b"SecretCam" in data and b"GPS secret" in data
    m = upload(stack, owner, p["id"], data, "image/webp").json()
    for query, accept in (("", None), ("?w=160", "image/webp"), ("?w=160", None)):
        got = requests.get(stack.url(m["url"] + query), headers={"Accept": accept} if accept else {}, timeout=10)
        assert got.status_code == 200
        body = got.content
        assert b"SecretCam" not in body and b"GPS secret" not in body, query
        assert b"EXIF" not in body and b"XMP " not in body and b"Exif" not in body, query


def test_reso_media_top_zero_and_patch_order_type(stack, owner):
    r = requests.get(stack.url("/reso/odata/Media?$top=0"), timeout=10)
    assert r.status_code == 200 and r.json()["value"] == [] and "@odata.nextLink" not in r.json()
    p = new_property(stack, owner)
    m = upload(stack, owner, p["id"], jpeg()).json()
    r = send(stack, "PATCH", f"/api/v1/properties/{p['id']}/media/{m['id']}", {"order": "1"}, token=owner["token"])
    assert_problem(r, 400, field="order")


def test_a_retry_commits_what_its_first_delivery_did_not(stack, owner):
    p = new_property(stack, owner)
    data = jpeg(50, 40)
    rid = "commit-" + uuid.uuid4().hex
    m = upload(stack, owner, p["id"], data, rid=rid).json()
    files = stack.mongo()[stack.prefix + "properties"]["media.files"]
    files.update_one({"_id": m["id"]}, {"$set": {"metadata.committed": False}})  # as if its worker died there
    again = upload(stack, owner, p["id"], data, rid=rid)
    assert again.status_code == 201 and again.json() == m
    assert files.find_one({"_id": m["id"]})["metadata"]["committed"] is True


def test_copies_made_at_once_are_whole(stack, owner):
    """Several first reads of one copy: one worker makes it, the others wait
    for it; no writer removes another's chunks (a copy over one chunk)."""
    p = new_property(stack, owner)
    m = upload(stack, owner, p["id"], noisy_jpeg(3 << 20)).json()
    url = stack.url(m["url"]) + "?w=1280"
    out = []
    threads = [threading.Thread(target=lambda: out.append(requests.get(url, timeout=60))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in out] == [200] * 6, [r.text[:200] for r in out]
    assert len({r.content for r in out}) == 1
    db = stack.mongo()[stack.prefix + "properties"]
    copy = db["media.files"].find_one({"_id": m["id"] + "-w1280.jpeg"})
    assert copy["length"] > copy["chunkSize"]  # more than one chunk
    chunks = db["media.chunks"].count_documents({"files_id": copy["_id"]})
    assert chunks == -(-copy["length"] // copy["chunkSize"])


def test_a_colour_profile_is_applied_then_dropped(stack, owner):
    from PIL import ImageCms
    p = new_property(stack, owner)
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (60, 40), (200, 100, 50)).save(out, "JPEG", icc_profile=profile, quality=95)
    assert Image.open(io.BytesIO(out.getvalue())).info.get("icc_profile")
    m = upload(stack, owner, p["id"], out.getvalue()).json()
    got = Image.open(io.BytesIO(requests.get(stack.url(m["url"]), timeout=10).content))
    assert not got.info.get("icc_profile")
    r, g, b = got.getpixel((30, 20))
    assert abs(r - 200) < 12 and abs(g - 100) < 12 and abs(b - 50) < 12  # sRGB to sRGB: the same colour
