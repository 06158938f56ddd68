"""No reply may exceed what the spine carries (issue 21, item 1).

A page of a list whose items would pass what a reply may carry
(ROOST_MAX_MESSAGE_BYTES less a sixteenth) is answered smaller: a classic
page with a smaller per_page (and the page of that size that starts at the
same item), so that its Link header leads through every item once; an OData
window with a smaller top, so that $skip=S+T is still the next window. Any
other reply past it is a prompt 500 reply_too_large, logged by the worker,
and every worker goes on serving. Both over HTTP and over nng.

The stacks here run with small message limits so that a few documents of a
megabyte are enough to pass them."""
import time
import urllib.parse

import pytest
import requests

from roost_api import call, person, send, unique
from roost_stack import running

MIB = 1 << 20


def rooms(n, tag="r"):
    """n rooms of about 10 KB each (50 characteristics of 200 characters)."""
    return [{"name": f"{tag}{i}", "kind": "other", "area_m2": 10,
             "characteristics": {f"c{k}": "x" * 200 for k in range(45)}} for i in range(n)]


def big(city, n_rooms):
    return {"name": unique("Big"), "type": "house", "city": city, "address": "1 Big Street",
            "description": "d" * 5000, "rooms": rooms(n_rooms)}


def worker_pids(s, tries=40):
    """The pids of the workers that answer sys.ping over nng."""
    pids = set()
    for _ in range(tries):
        code, reply = call(s, "sys.ping")
        assert code == 0 and reply["status"] == 200, reply
        pids.add(reply["body"]["worker_pid"])
    return pids


@pytest.fixture(scope="module")
def paged():
    """A pool of 2 workers whose messages hold 4 MiB: a reply carries
    3.75 MiB, three of the 18 properties of about 950 KB here."""
    with running(workers=2, env={"ROOST_MAX_MESSAGE_BYTES": str(4 * MIB)}) as s:
        owner = person(s)
        city = unique("Bigtown")
        ids = []
        for _ in range(18):
            r = send(s, "POST", "/api/v1/properties", big(city, 90), token=owner["token"])
            assert r.status_code == 201, r.text[:300]
            ids.append(r.json()["id"])
        s.big_city, s.big_ids, s.big_owner = city, ids, owner
        yield s


def next_link(r):
    for part in r.headers.get("Link", "").split(","):
        url, _, rel = part.partition(";")
        if 'rel="next"' in rel:
            return url.strip()[1:-1]
    return None


def test_a_page_past_the_reply_limit_is_answered_smaller_with_links_to_the_rest(paged):
    s = paged
    t = time.monotonic()
    r = requests.get(s.url("/api/v1/properties?" + urllib.parse.urlencode({"city": s.big_city, "per_page": 100})),
                     timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert time.monotonic() - t < 8, "the page waited for a timeout"
    body = r.json()
    assert 1 <= len(body["items"]) < 18 and body["per_page"] == len(body["items"]) and body["page"] == 1
    assert body["total"] == 18 and len(r.content) < 4 * MIB
    seen = [p["id"] for p in body["items"]]
    link = next_link(r)
    while link is not None:
        r = requests.get(s.url(link), timeout=30)
        assert r.status_code == 200, r.text[:300]
        seen += [p["id"] for p in r.json()["items"]]
        link = next_link(r)
    assert sorted(seen) == sorted(s.big_ids) and len(seen) == len(set(seen)), "the links lost or repeated items"


def test_a_later_page_cut_short_starts_at_the_same_item(paged):
    s = paged
    q = {"city": s.big_city, "per_page": 10}
    whole = [p["id"] for p in requests.get(s.url("/api/v1/properties?" + urllib.parse.urlencode(
        {**q, "per_page": 1, "page": 1})), timeout=30).json()["items"]]
    assert whole, "no first item"
    r = requests.get(s.url("/api/v1/properties?" + urllib.parse.urlencode({**q, "page": 2})), timeout=30)
    assert r.status_code == 200, r.text[:300]
    body = r.json()
    # Items 11.. of the list: of 10 before them, a page size dividing 10 that fits.
    assert body["per_page"] in (1, 2) and 10 % body["per_page"] == 0
    assert (body["page"] - 1) * body["per_page"] == 10 and len(body["items"]) == body["per_page"]
    by_ten = [p["id"] for p in requests.get(s.url("/api/v1/properties?" + urllib.parse.urlencode(
        {**q, "per_page": 1, "page": 11})), timeout=30).json()["items"]]
    assert body["items"][0]["id"] == by_ten[0]


def test_an_odata_window_past_the_limit_ends_early_and_the_next_one_follows_on(paged):
    s = paged
    seen, skip = [], 0
    while True:
        r = requests.get(s.url("/api/v1/properties"), params={
            "$filter": f"city eq '{s.big_city}'", "$top": "100", "$skip": str(skip), "$count": "true"}, timeout=30)
        assert r.status_code == 200, r.text[:300]
        body = r.json()
        assert body["total"] == 18 and body["skip"] == skip and len(body["items"]) <= body["top"]
        seen += [p["id"] for p in body["items"]]
        if len(body["items"]) < body["top"] or not body["items"]:
            break
        assert body["top"] < 100 or skip + body["top"] >= 18
        skip += body["top"]
    assert sorted(seen) == sorted(s.big_ids) and len(seen) == len(set(seen))


def test_a_reso_page_gets_every_property_even_when_their_window_is_cut_short(paged):
    """The RESO face reads its page's properties (rooms and all) from the
    properties service in one window of 100, which a reply cannot carry
    here: it reads the rest from $skip, and no listing loses its City."""
    s = paged
    owner = s.big_owner
    for pid in s.big_ids:
        r = send(s, "POST", "/api/v1/listings", {"listing_type": "sale", "price": 100000, "property_id": pid},
                 token=owner["token"])
        assert r.status_code == 201, r.text[:300]
    r = requests.get(s.url("/reso/odata/Property"), params={
        "$filter": f"ListAgentKey eq '{owner['id']}'", "$top": "100"}, timeout=60)
    assert r.status_code == 200, r.text[:300]
    value = r.json()["value"]
    assert len(value) == 18 and all(e.get("City") == s.big_city for e in value), [e.get("City") for e in value]


def test_over_nng_the_same_page_is_answered_smaller(paged):
    s = paged
    code, reply = call(s, "properties.list", {"query": {"city": s.big_city, "per_page": "100"}})
    assert code == 0 and reply["status"] == 200, str(reply)[:300]
    body = reply["body"]
    assert 1 <= len(body["items"]) < 18 and body["per_page"] == len(body["items"])


def test_every_worker_still_serves_after_large_pages(paged):
    s = paged
    for _ in range(3):
        r = requests.get(s.url("/api/v1/properties?" + urllib.parse.urlencode({"city": s.big_city, "per_page": 100})),
                         timeout=30)
        assert r.status_code == 200
    assert len(worker_pids(s)) == 2, "a worker left the pool"


def test_a_reply_no_page_can_make_small_enough_is_a_prompt_logged_500():
    """Messages of 512 KiB (replies of 480 KiB) and bodies of 256 KiB: a
    property grown past 480 KiB room by room cannot be answered whole."""
    env = {"ROOST_MAX_MESSAGE_BYTES": str(512 << 10), "ROOST_MAX_BODY_BYTES": str(256 << 10)}
    with running(workers=2, env=env) as s:
        owner = person(s)
        city = unique("Hugetown")
        r = send(s, "POST", "/api/v1/properties", big(city, 20), token=owner["token"])
        assert r.status_code == 201, r.text[:300]
        pid = r.json()["id"]
        for i in range(40):
            r = send(s, "POST", f"/api/v1/properties/{pid}/rooms", rooms(1, f"more{i}-")[0], token=owner["token"])
            assert r.status_code in (201, 500), r.text[:300]
        for path in (f"/api/v1/properties/{pid}", "/api/v1/properties?" + urllib.parse.urlencode({"city": city})):
            t = time.monotonic()
            r = requests.get(s.url(path), timeout=30)
            assert time.monotonic() - t < 5, f"{path}: answered after {time.monotonic() - t:.1f} s"
            assert r.status_code == 500 and r.json()["code"] == "reply_too_large", (path, r.status_code, r.text[:300])
        code, reply = call(s, "properties.get", {"params": {"id": pid}})
        assert reply["status"] == 500 and reply["error"]["code"] == "reply_too_large"
        assert "reply_too_large" in s.log("pool") or "a reply may carry" in s.log("pool")
        assert len(worker_pids(s)) == 2, "a worker left the pool"
