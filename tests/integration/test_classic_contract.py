"""The classic listings/users contract, replayed from its documented
examples and compared field by field: envelopes, field names and types,
defaults, newest-first order, pagination edges, form and JSON variants,
and the error envelope."""
import time

import pytest
import requests

from roost_stack import running

LISTING_FIELDS = {"id", "user_id", "listing_type", "price", "created_at", "updated_at"}
USER_FIELDS = {"id", "name", "created_at", "updated_at"}
PUBLIC_LISTING_FIELDS = {"id", "listing_type", "price", "created_at", "updated_at", "user"}


@pytest.fixture(scope="module")
def classic():
    # A stack of its own: the classic lists are global, newest first, and
    # must not see other tests' data.
    with running(workers=2) as s:
        yield s


def is_us_timestamp(v):
    now_us = int(time.time() * 1e6)
    return isinstance(v, int) and now_us - 3600 * 10**6 < v <= now_us + 10**6


def assert_error(r, status, message=None):
    assert r.status_code == status, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"result", "errors"} and body["result"] is False
    assert isinstance(body["errors"], list) and body["errors"] and all(isinstance(e, str) for e in body["errors"])
    if message is not None:
        assert message in body["errors"], body
    return body


def test_create_user_form_example(classic):
    # curl localhost/users -XPOST -d name=...
    r = requests.post(classic.url("/users"), data={"name": "Jane Doe"}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"result", "user"} and body["result"] is True
    user = body["user"]
    assert set(user) == USER_FIELDS
    assert isinstance(user["id"], int) and user["name"] == "Jane Doe"
    assert is_us_timestamp(user["created_at"]) and user["created_at"] == user["updated_at"]


def test_user_errors(classic):
    assert_error(requests.post(classic.url("/users"), data={}, timeout=10), 400)
    assert_error(requests.post(classic.url("/users"), data={"name": ""}, timeout=10), 400)
    assert_error(requests.get(classic.url("/users/999999999"), timeout=10), 404, "user not found")
    assert_error(requests.get(classic.url("/users/abc"), timeout=10), 400)
    assert_error(requests.put(classic.url("/users"), timeout=10), 405)
    # A form route wants a form body.
    assert_error(requests.post(classic.url("/users"), json={"name": "x"}, timeout=10), 415)


def test_get_user_and_users_newest_first(classic):
    ids = [requests.post(classic.url("/users"), data={"name": f"Order {i}"}, timeout=10).json()["user"]["id"]
           for i in range(3)]
    one = requests.get(classic.url(f"/users/{ids[1]}"), timeout=10).json()
    assert set(one) == {"result", "user"} and one["result"] is True and one["user"]["name"] == "Order 1"
    listed = requests.get(classic.url("/users?page_num=1&page_size=3"), timeout=10).json()
    assert set(listed) == {"result", "users"} and listed["result"] is True
    assert [u["id"] for u in listed["users"]] == list(reversed(ids))
    assert all(set(u) == USER_FIELDS for u in listed["users"])


def test_listings_examples_defaults_order_and_filters(classic):
    uid = requests.post(classic.url("/users"), data={"name": "Lister"}, timeout=10).json()["user"]["id"]
    other = requests.post(classic.url("/users"), data={"name": "Other"}, timeout=10).json()["user"]["id"]
    made = []
    for i in range(12):
        who = uid if i % 3 else other
        # curl localhost/listings -XPOST -d user_id=1 -d listing_type=rent -d price=4500
        r = requests.post(classic.url("/listings"),
                          data={"user_id": str(who), "listing_type": "rent" if i % 2 else "sale", "price": str(4500 + i)},
                          timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert set(body) == {"result", "listing"} and body["result"] is True
        listing = body["listing"]
        assert set(listing) == LISTING_FIELDS
        assert listing["user_id"] == who and listing["price"] == 4500 + i
        assert listing["listing_type"] == ("rent" if i % 2 else "sale")
        assert is_us_timestamp(listing["created_at"])
        made.append(listing)

    # Defaults: page_num=1, page_size=10, newest first.
    default = requests.get(classic.url("/listings"), timeout=10).json()
    assert set(default) == {"result", "listings"} and default["result"] is True
    assert [l["id"] for l in default["listings"]] == [l["id"] for l in reversed(made)][:10]
    assert default["listings"][0] == made[-1]
    assert all(set(l) == LISTING_FIELDS for l in default["listings"])
    # Pages tile the whole list; past the end is empty, not an error.
    page2 = requests.get(classic.url("/listings?page_num=2&page_size=10"), timeout=10).json()["listings"]
    assert [l["id"] for l in page2] == [l["id"] for l in reversed(made)][10:]
    assert requests.get(classic.url("/listings?page_num=3&page_size=10"), timeout=10).json() == \
        {"result": True, "listings": []}
    # GET /listings?page_num=1&page_size=10&user_id=1
    mine = requests.get(classic.url(f"/listings?page_num=1&page_size=10&user_id={uid}"), timeout=10).json()["listings"]
    assert [l["id"] for l in mine] == [l["id"] for l in reversed(made) if l["user_id"] == uid][:10]


@pytest.mark.parametrize("form,message", [
    ({"user_id": "x", "listing_type": "rent", "price": "10"}, "invalid user_id"),
    ({"user_id": "1", "listing_type": "lease", "price": "10"}, "invalid listing_type. Supported values: 'rent', 'sale'"),
    ({"user_id": "1", "listing_type": "rent", "price": "ten"}, "invalid price. Must be an integer"),
    ({"user_id": "1", "listing_type": "rent", "price": "0"}, "price must be greater than 0"),
    ({"listing_type": "rent", "price": "10"}, None),
])
def test_listing_errors(classic, form, message):
    assert_error(requests.post(classic.url("/listings"), data=form, timeout=10), 400, message)


def test_listing_for_an_unknown_user_is_404(classic):
    assert_error(requests.post(classic.url("/listings"), data={"user_id": "999999999", "listing_type": "sale",
                                                              "price": "5"}, timeout=10), 404, "user not found")


@pytest.mark.parametrize("query,message", [("page_num=0", "invalid page_num"), ("page_num=x", "invalid page_num"),
                                           ("page_size=0", "invalid page_size"), ("page_size=101", "invalid page_size"),
                                           ("user_id=abc", "invalid user_id")])
def test_list_parameter_errors(classic, query, message):
    assert_error(requests.get(classic.url("/listings?" + query), timeout=10), 400, message)


@pytest.mark.parametrize("path", ["/listings", "/public-api/listings"])
@pytest.mark.parametrize("user_id", ["0", "-1", "999999999"])
def test_any_integer_user_id_lists_nothing_rather_than_failing(classic, path, user_id):
    """The original service takes any integer user_id: 0 and -1 are no user's, an empty page."""
    r = requests.get(classic.url(f"{path}?user_id={user_id}"), timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["listings"] == []


def test_public_api_json_variants_and_join(classic):
    # POST /public-api/users {"name": ...} -> {"user": {...}}
    r = requests.post(classic.url("/public-api/users"), json={"name": "Public Person"}, timeout=10)
    assert r.status_code == 200
    assert set(r.json()) == {"user"} and set(r.json()["user"]) == USER_FIELDS
    user = r.json()["user"]
    # POST /public-api/listings {"user_id", "listing_type", "price"} -> {"listing": {...}}
    r = requests.post(classic.url("/public-api/listings"),
                      json={"user_id": user["id"], "listing_type": "sale", "price": 123000}, timeout=10)
    assert r.status_code == 200
    assert set(r.json()) == {"listing"} and set(r.json()["listing"]) == LISTING_FIELDS
    listing = r.json()["listing"]
    # GET /public-api/listings?page_num=1&page_size=10&user_id=... -> listings with their user
    got = requests.get(classic.url(f"/public-api/listings?page_num=1&page_size=10&user_id={user['id']}"),
                       timeout=10).json()
    assert set(got) == {"result", "listings"} and got["result"] is True
    assert len(got["listings"]) == 1
    entry = got["listings"][0]
    assert set(entry) == PUBLIC_LISTING_FIELDS
    assert {k: entry[k] for k in PUBLIC_LISTING_FIELDS - {"user"}} == \
        {k: listing[k] for k in PUBLIC_LISTING_FIELDS - {"user"}}
    assert entry["user"] == user


def test_public_api_errors(classic):
    assert_error(requests.post(classic.url("/public-api/users"), json={}, timeout=10), 400)
    assert_error(requests.post(classic.url("/public-api/users"), data="{bad json", headers={"Content-Type": "application/json"},
                               timeout=10), 400)
    assert_error(requests.post(classic.url("/public-api/listings"), json={"user_id": 1, "listing_type": "x", "price": 1},
                               timeout=10), 400, "invalid listing_type. Supported values: 'rent', 'sale'")
    assert_error(requests.post(classic.url("/public-api/listings"),
                               json={"user_id": 999999999, "listing_type": "rent", "price": 1}, timeout=10), 404)
    assert_error(requests.get(classic.url("/public-api/listings?page_size=1000"), timeout=10), 400, "invalid page_size")


def test_public_listings_of_a_page_join_each_user(classic):
    names = {}
    for i in range(3):
        u = requests.post(classic.url("/public-api/users"), json={"name": f"Joiner {i}"}, timeout=10).json()["user"]
        names[u["id"]] = u["name"]
        for price in (100 + i, 200 + i):
            requests.post(classic.url("/public-api/listings"), json={"user_id": u["id"], "listing_type": "rent",
                                                                     "price": price}, timeout=10)
    page = requests.get(classic.url("/public-api/listings?page_num=1&page_size=6"), timeout=10).json()["listings"]
    assert len(page) == 6
    assert all(l["user"]["name"] == names[l["user"]["id"]] for l in page)
