"""Profile edits (PATCH /api/v1/users/{id}, JSON merge-patch, owner only) and
the user list's ordering, search, id filter and pagination.

The stack is shared with other test files: every user here has a fresh
name, and lists are narrowed to the users a test made (username search or
id filter) before anything is counted."""
import pytest
import requests

from roost_api import assert_problem, create_user, login, send, token_for, unique


def users_coll(stack, db):
    return db[stack.prefix + "users"]["users"]


def emails_coll(stack, db):
    return db[stack.prefix + "users"]["emails"]


def doc_of(stack, db, uid):
    return users_coll(stack, db).find_one({"_id": uid})


def me_with_token(stack, **over):
    u = create_user(stack, **over)
    u["token"] = token_for(stack, u["username"])
    return u


def patch(stack, uid, body, token=None, raw=None, headers=None):
    return send(stack, "PATCH", f"/api/v1/users/{uid}", body, token=token, raw=raw, headers=headers)


def listing(stack, query):
    return requests.get(stack.url("/api/v1/users?" + query), timeout=10)


# =====================================================================================
# PATCH refusals: each leaves the stored document exactly as it was
# =====================================================================================

def test_patch_with_another_users_token_is_403_and_changes_nothing(stack, db):
    victim = me_with_token(stack, email=unique() + "@example.org")
    intruder = me_with_token(stack)
    before = doc_of(stack, db, victim["id"])
    for body in ({"first_name": "Mallory"}, {"email": None}, {"password": "taken over!",
                                                              "current_password": "correct horse"},
                 {"username": unique()}, {}):
        assert_problem(patch(stack, victim["id"], body, token=intruder["token"]), 403, code="forbidden")
    assert doc_of(stack, db, victim["id"]) == before
    # The victim's password still works and the intruder's did not take over.
    assert login(stack, victim["username"]).status_code == 200
    assert login(stack, victim["username"], "taken over!").status_code == 401


def test_patch_of_a_user_that_does_not_exist_with_a_token_for_someone_else_is_403(stack):
    u = me_with_token(stack)
    assert_problem(patch(stack, 999_999_999, {"first_name": "X"}, token=u["token"]), 403)


def test_patch_without_token_is_401_and_changes_nothing(stack, db):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    r = patch(stack, u["id"], {"first_name": "Nobody"})
    assert_problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(patch(stack, u["id"], {"first_name": "Nobody"}, token="not.a.token"), 401)
    assert doc_of(stack, db, u["id"]) == before


@pytest.mark.parametrize("body,field", [
    ({"is_admin": True}, "is_admin"),
    ({"name": "Computed Name"}, "name"),
    ({"password_hash": "$argon2id$v=19$m=1,t=1,p=1$x$y"}, "password_hash"),
    ({"created_at": 0}, "created_at"),
    ({"id": 5}, "id"),
    ({"$set": {"is_admin": True}}, "$set"),
    ({"$unset": {"username": ""}}, "$unset"),
    ({"first_name": "Ok", "nickname": "x"}, "nickname"),
])
def test_patch_with_unknown_field_is_400_and_changes_nothing(stack, db, body, field):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    assert_problem(patch(stack, u["id"], body, token=u["token"]), 400, field=field, code="validation_failed")
    assert doc_of(stack, db, u["id"]) == before


@pytest.mark.parametrize("body,field", [
    ({"first_name": ""}, "first_name"),
    ({"first_name": None}, "first_name"),
    ({"first_name": 7}, "first_name"),
    ({"first_name": "tab\there"}, "first_name"),
    ({"last_name": "x" * 101}, "last_name"),
    ({"last_name": None}, "last_name"),
    ({"last_name": {"$ne": None}}, "last_name"),
    ({"birth_date": "1990-02-30"}, "birth_date"),
    ({"birth_date": "1899-12-31"}, "birth_date"),
    ({"birth_date": "2999-01-01"}, "birth_date"),
    ({"birth_date": None}, "birth_date"),
    ({"email": "not-an-email"}, "email"),
    ({"email": "a@b@example.org"}, "email"),
    ({"email": {"$gt": ""}}, "email"),
    ({"username": "ab"}, "username"),
    ({"username": "bad name"}, "username"),
    ({"username": "_leading"}, "username"),
    ({"username": None}, "username"),
    ({"username": {"$regex": ".*"}}, "username"),
    ({"place_id": 0}, "place_id"),
    ({"place_id": -4}, "place_id"),
    ({"place_id": "12"}, "place_id"),
    ({"place_id": 1.5}, "place_id"),
    ({"place_id": {"$gt": 0}}, "place_id"),
    ({"password": "short", "current_password": "correct horse"}, "password"),
    ({"password": None, "current_password": "correct horse"}, "password"),
])
def test_patch_with_bad_value_is_400_naming_the_field(stack, db, body, field):
    u = me_with_token(stack, email=unique() + "@example.org")
    before = doc_of(stack, db, u["id"])
    assert_problem(patch(stack, u["id"], body, token=u["token"]), 400, field=field, code="validation_failed")
    assert doc_of(stack, db, u["id"]) == before


def test_patch_with_one_bad_field_applies_none_of_the_good_ones(stack, db):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    p = assert_problem(patch(stack, u["id"], {"first_name": "Changed", "place_id": 9, "birth_date": "nope"},
                             token=u["token"]), 400)
    assert [e["field"] for e in p["errors"]] == ["birth_date"]
    assert doc_of(stack, db, u["id"]) == before


def test_patch_with_repeated_key_or_malformed_json_is_400(stack, db):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    assert_problem(patch(stack, u["id"], None, token=u["token"],
                         raw=b'{"first_name": "One", "first_name": "Two"}'), 400, field="first_name")
    assert_problem(patch(stack, u["id"], None, token=u["token"], raw=b'{"first_name": '), 400)
    assert_problem(patch(stack, u["id"], None, token=u["token"], raw=b'["first_name"]'), 400)
    assert doc_of(stack, db, u["id"]) == before


@pytest.mark.parametrize("path", ["/api/v1/users/0", "/api/v1/users/-1", "/api/v1/users/abc"])
def test_patch_with_bad_id_is_refused(stack, path):
    u = me_with_token(stack)
    assert_problem(send(stack, "PATCH", path, {"first_name": "X"}, token=u["token"]), 400, field="id")


def test_password_change_with_wrong_current_password_is_400(stack, db):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    assert_problem(patch(stack, u["id"], {"password": "brand new pass", "current_password": "not the one"},
                         token=u["token"]), 400, field="current_password")
    assert doc_of(stack, db, u["id"]) == before
    assert login(stack, u["username"], "brand new pass").status_code == 401
    assert login(stack, u["username"]).status_code == 200


def test_password_change_without_current_password_is_400(stack, db):
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    assert_problem(patch(stack, u["id"], {"password": "brand new pass"}, token=u["token"]), 400,
                   field="current_password")
    assert_problem(patch(stack, u["id"], {"password": "brand new pass", "current_password": ""},
                         token=u["token"]), 400, field="current_password")
    assert_problem(patch(stack, u["id"], {"password": "brand new pass", "current_password": None},
                         token=u["token"]), 400, field="current_password")
    # current_password alone is no change at all.
    assert_problem(patch(stack, u["id"], {"current_password": "correct horse"}, token=u["token"]), 400,
                   field="current_password")
    assert doc_of(stack, db, u["id"]) == before
    assert login(stack, u["username"], "brand new pass").status_code == 401


def test_username_change_to_a_taken_name_is_409_case_insensitively(stack, db):
    holder = create_user(stack, username=unique("Taken"))
    u = me_with_token(stack)
    before = doc_of(stack, db, u["id"])
    for name in (holder["username"], holder["username"].upper(), holder["username"].lower()):
        assert_problem(patch(stack, u["id"], {"username": name}, token=u["token"]), 409, code="username_taken")
    assert doc_of(stack, db, u["id"]) == before
    assert doc_of(stack, db, holder["id"])["username"] == holder["username"]


def test_email_change_to_a_taken_address_is_409(stack, db):
    address = unique() + "@example.org"
    holder = create_user(stack, email=address)
    u = me_with_token(stack, email=unique() + "@example.org")
    before = doc_of(stack, db, u["id"])
    for taken in (address, address.upper()):
        assert_problem(patch(stack, u["id"], {"email": taken}, token=u["token"]), 409, code="email_taken")
    assert doc_of(stack, db, u["id"]) == before
    assert doc_of(stack, db, holder["id"])["email"] == address
    assert emails_coll(stack, db).count_documents({"_id": address.lower()}) == 1


def test_refused_username_change_does_not_keep_a_claim_on_the_new_email(stack, db):
    holder = create_user(stack)
    u = me_with_token(stack)
    address = unique() + "@example.org"
    assert_problem(patch(stack, u["id"], {"username": holder["username"], "email": address},
                         token=u["token"]), 409, code="username_taken")
    assert "email" not in doc_of(stack, db, u["id"])
    assert emails_coll(stack, db).count_documents({"_id": address}) == 0
    # The address is free for anyone.
    other = me_with_token(stack)
    r = patch(stack, other["id"], {"email": address}, token=other["token"])
    assert r.status_code == 200 and r.json()["email"] == address


# =====================================================================================
# PATCH that works
# =====================================================================================

def test_merge_patch_sets_present_fields_and_leaves_absent_ones(stack, db):
    address = unique() + "@example.org"
    u = me_with_token(stack, email=address, first_name="Ada", last_name="Byron")
    before = doc_of(stack, db, u["id"])

    r = patch(stack, u["id"], {"first_name": "Augusta"}, token=u["token"])
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["first_name"] == "Augusta" and got["last_name"] == "Byron"
    assert got["name"] == "Augusta Byron"
    assert got["email"] == address and got["username"] == u["username"]
    assert got["birth_date"] == u["birth_date"] and got["created_at"] == u["created_at"]
    assert got["updated_at"] > u["updated_at"]
    assert not any("password" in k for k in got)

    after = doc_of(stack, db, u["id"])
    assert after["password_hash"] == before["password_hash"]
    assert after["name"] == "Augusta Byron"
    assert requests.get(stack.url(f"/api/v1/users/{u['id']}"), timeout=10).json() == got

    r = patch(stack, u["id"], {"last_name": "King", "birth_date": "1990-01-02"}, token=u["token"])
    assert r.status_code == 200
    assert r.json()["name"] == "Augusta King" and r.json()["birth_date"] == "1990-01-02"
    assert doc_of(stack, db, u["id"])["name"] == "Augusta King"

    # An empty patch changes nothing but is fine.
    r = patch(stack, u["id"], {}, token=u["token"])
    assert r.status_code == 200 and r.json()["name"] == "Augusta King"


def test_merge_patch_content_type_is_accepted(stack):
    u = me_with_token(stack)
    r = patch(stack, u["id"], {"first_name": "Merged"}, token=u["token"],
              headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json()["first_name"] == "Merged"


def test_email_null_removes_it_and_frees_the_address(stack, db):
    address = unique() + "@Example.org"
    u = me_with_token(stack, email=address)
    r = patch(stack, u["id"], {"email": None}, token=u["token"])
    assert r.status_code == 200, r.text
    assert "email" not in r.json()
    assert "email" not in doc_of(stack, db, u["id"])
    assert emails_coll(stack, db).count_documents({"_id": address.lower()}) == 0
    # Another user can now take the address, even spelled differently.
    other = me_with_token(stack)
    r = patch(stack, other["id"], {"email": address.lower()}, token=other["token"])
    assert r.status_code == 200 and r.json()["email"] == address.lower()
    # Removing an email that is not there is fine.
    assert patch(stack, u["id"], {"email": None}, token=u["token"]).status_code == 200


def test_place_id_set_and_removed(stack, db):
    u = me_with_token(stack)
    assert "place_id" not in u
    # A place_id must name an existing place (asked of the places service).
    place = send(stack, "POST", "/api/v1/places", {"name": unique("Home "), "country": "PT"}, token=u["token"])
    assert place.status_code == 201, place.text
    pid = place.json()["id"]
    r = patch(stack, u["id"], {"place_id": pid}, token=u["token"])
    assert r.status_code == 200 and r.json()["place_id"] == pid
    assert doc_of(stack, db, u["id"])["place_id"] == pid
    r = patch(stack, u["id"], {"first_name": "Still"}, token=u["token"])
    assert r.json()["place_id"] == pid
    r = patch(stack, u["id"], {"place_id": None}, token=u["token"])
    assert r.status_code == 200 and "place_id" not in r.json()
    assert "place_id" not in doc_of(stack, db, u["id"])


def test_password_change_with_current_password(stack, db):
    u = me_with_token(stack)
    old_hash = doc_of(stack, db, u["id"])["password_hash"]
    r = patch(stack, u["id"], {"password": "brand new pass", "current_password": "correct horse"}, token=u["token"])
    assert r.status_code == 200, r.text
    assert not any("password" in k for k in r.json())
    new_hash = doc_of(stack, db, u["id"])["password_hash"]
    assert new_hash != old_hash and new_hash.startswith("$argon2id$")
    assert_problem(login(stack, u["username"]), 401, code="invalid_credentials")
    assert login(stack, u["username"], "brand new pass").status_code == 200


def test_username_change_frees_the_old_name(stack, db):
    u = me_with_token(stack)
    old = u["username"]
    new = unique("Renamed")
    r = patch(stack, u["id"], {"username": new}, token=u["token"])
    assert r.status_code == 200 and r.json()["username"] == new
    doc = doc_of(stack, db, u["id"])
    assert doc["username"] == new and doc["username_key"] == new.lower()
    assert login(stack, new).status_code == 200
    assert login(stack, old).status_code == 401
    # A change of case only is the user's own name, not a conflict.
    r = patch(stack, u["id"], {"username": new.upper()}, token=u["token"])
    assert r.status_code == 200 and r.json()["username"] == new.upper()
    # The old name can be registered again.
    assert create_user(stack, username=old)["username"] == old


def test_email_change_frees_the_old_address(stack, db):
    old, new = unique() + "@example.org", unique() + "@example.org"
    u = me_with_token(stack, email=old)
    r = patch(stack, u["id"], {"email": new}, token=u["token"])
    assert r.status_code == 200 and r.json()["email"] == new
    assert emails_coll(stack, db).count_documents({"_id": old}) == 0
    assert emails_coll(stack, db).count_documents({"_id": new}) == 1
    # The old address is free: a new user registers with it.
    assert create_user(stack, email=old)["email"] == old
    # The new one is held: nobody else may take it.
    other = me_with_token(stack)
    assert_problem(patch(stack, other["id"], {"email": new.upper()}, token=other["token"]), 409, code="email_taken")
    # Setting one's own address again, in another case, is not a conflict.
    r = patch(stack, u["id"], {"email": new.upper()}, token=u["token"])
    assert r.status_code == 200 and r.json()["email"] == new.upper()


# =====================================================================================
# GET /api/v1/users refusals
# =====================================================================================

@pytest.mark.parametrize("order_by", ["email", "password_hash", "name", "-", "--id", "id,username", "%24natural",
                                      "ID", "username_key", ""])
def test_unknown_order_by_is_400(stack, order_by):
    assert_problem(listing(stack, "order_by=" + order_by), 400, field="order_by")


@pytest.mark.parametrize("ids", ["x", "1,,2", "1,2,", ",1", "0", "-1", "1;2", "1,x", "1 2", "", "1.5",
                                 ",".join(str(i) for i in range(1, 102))])
def test_bad_id_filter_is_400(stack, ids):
    assert_problem(listing(stack, "id=" + ids), 400, field="id")


@pytest.mark.parametrize("query,field", [("per_page=101", "per_page"), ("per_page=0", "per_page"),
                                         ("page=0", "page"), ("page=-1", "page"), ("per_page=1e2", "per_page"),
                                         ("username=", "username"), ("username=" + "a" * 65, "username")])
def test_bad_paging_or_search_is_400(stack, query, field):
    assert_problem(listing(stack, query), 400, field=field)


@pytest.mark.parametrize("query", ["email=a@b.org", "username[$regex]=.*", "password_hash=x", "sort=id"])
def test_unknown_list_parameter_is_400(stack, query):
    assert_problem(listing(stack, query), 400)


# =====================================================================================
# GET /api/v1/users: search, filter, order, pages
# =====================================================================================

@pytest.fixture(scope="module")
def family(stack):
    """Five users whose names share a fresh fragment, so a search finds exactly them."""
    tag = unique("fam")
    spec = [("d", "Zeta"), ("b", "Alpha"), ("e", "Mu"), ("a", "Alpha"), ("c", "Beta")]
    users = [create_user(stack, username=f"{tag}{suffix}", last_name=last) for suffix, last in spec]
    return tag, users


def ids_of(r):
    assert r.status_code == 200, r.text
    return [u["id"] for u in r.json()["items"]]


def test_order_by_each_field_both_ways(stack, family):
    tag, users = family
    base = f"username={tag}&per_page=100"
    by_id = sorted(users, key=lambda u: u["id"])
    assert ids_of(listing(stack, base)) == [u["id"] for u in by_id]
    assert ids_of(listing(stack, base + "&order_by=id")) == [u["id"] for u in by_id]
    assert ids_of(listing(stack, base + "&order_by=-id")) == [u["id"] for u in reversed(by_id)]

    by_name = sorted(users, key=lambda u: u["username"].lower())
    assert ids_of(listing(stack, base + "&order_by=username")) == [u["id"] for u in by_name]
    assert ids_of(listing(stack, base + "&order_by=-username")) == [u["id"] for u in reversed(by_name)]

    by_created = sorted(users, key=lambda u: (u["created_at"], u["id"]))
    assert ids_of(listing(stack, base + "&order_by=created_at")) == [u["id"] for u in by_created]
    assert ids_of(listing(stack, base + "&order_by=-created_at")) == [u["id"] for u in reversed(by_created)]

    # last_name has a tie (two "Alpha"): ties are broken by id.
    by_last = sorted(users, key=lambda u: (u["last_name"], u["id"]))
    assert ids_of(listing(stack, base + "&order_by=last_name")) == [u["id"] for u in by_last]
    desc = listing(stack, base + "&order_by=-last_name").json()["items"]
    assert [u["last_name"] for u in desc] == sorted((u["last_name"] for u in users), reverse=True)
    alphas = [u["id"] for u in desc if u["last_name"] == "Alpha"]
    assert alphas in (sorted(alphas), sorted(alphas, reverse=True))


def test_username_search_is_a_case_insensitive_substring(stack, family):
    tag, users = family
    everyone = {u["id"] for u in users}
    for term in (tag, tag.upper(), tag[3:], tag.upper()[2:] + "A"):
        got = set(ids_of(listing(stack, f"username={term}&per_page=100")))
        expected = {u["id"] for u in users if term.lower() in u["username"].lower()}
        assert got == expected and expected, term
    assert set(ids_of(listing(stack, f"username={tag}&per_page=100"))) == everyone
    one = [u for u in users if u["username"].endswith("c")][0]
    assert ids_of(listing(stack, f"username={tag}C")) == [one["id"]]
    assert ids_of(listing(stack, f"username={tag}cz")) == []


def test_username_search_matches_regex_metacharacters_literally(stack, family):
    tag, _ = family
    assert ids_of(listing(stack, "username=.*[(")) == []
    assert listing(stack, "username=.*[(").json()["total"] == 0
    for term in (".*", "%5E" + tag, tag + "%24", tag + ".", "(" + tag + ")", tag[:4] + ".*", "[a-z]", "a|b",
                 "%5C", tag[:4] + "%2B"):
        r = listing(stack, f"username={term}&per_page=100")
        assert r.status_code == 200, (term, r.text)
        assert r.json()["total"] == 0 and r.json()["items"] == [], term


def test_username_search_with_a_dot_is_literal(stack):
    tag = unique("dot")
    dotted = create_user(stack, username=f"{tag}a.b")
    decoy = create_user(stack, username=f"{tag}aXb")
    underscored = create_user(stack, username=f"{tag}a_b")
    assert ids_of(listing(stack, f"username={tag}a.b")) == [dotted["id"]]
    assert ids_of(listing(stack, f"username={tag}a_b")) == [underscored["id"]]
    assert ids_of(listing(stack, f"username={tag}a%25b")) == []
    # The bare fragment "a.b": every hit really has "a.b", the dotted user among them, the decoy not.
    r = listing(stack, "username=a.b&per_page=100")
    names = [u["username"].lower() for u in r.json()["items"]]
    assert all("a.b" in n for n in names) and dotted["username"].lower() in names
    assert decoy["id"] not in ids_of(r)
    # ...and "a_b" does not find the dotted user.
    assert dotted["id"] not in ids_of(listing(stack, "username=a_b&per_page=100"))


def test_id_filter(stack, family):
    _, users = family
    a, b, c = sorted(u["id"] for u in users)[:3]
    assert ids_of(listing(stack, f"id={b},{a}")) == [a, b]
    assert ids_of(listing(stack, f"id={c}")) == [c]
    assert listing(stack, f"id={a},{b}").json()["total"] == 2
    # Unknown ids are simply absent.
    assert ids_of(listing(stack, f"id={a},999999999")) == [a]
    # Exactly 100 ids is allowed.
    many = ",".join(str(i) for i in [a] + list(range(900_000_000, 900_000_099)))
    assert ids_of(listing(stack, "id=" + many)) == [a]
    # The id filter and the search combine.
    tag = [u for u in users if u["id"] == a][0]["username"]
    assert ids_of(listing(stack, f"id={a},{b}&username={tag}")) == [a]


def test_pages_edges_and_link_header(stack, family):
    tag, users = family
    ids = sorted(u["id"] for u in users)
    q = f"username={tag}&per_page=2"

    first = listing(stack, q)
    assert first.json()["page"] == 1 and first.json()["total"] == 5 and ids_of(first) == ids[:2]
    rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(first.headers["Link"])}
    assert set(rels) == {"first", "next", "last"}
    assert rels["next"] == f"/api/v1/users?username={tag}&page=2&per_page=2"
    assert rels["last"] == f"/api/v1/users?username={tag}&page=3&per_page=2"

    middle = listing(stack, q + "&page=2")
    assert ids_of(middle) == ids[2:4]
    rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(middle.headers["Link"])}
    assert set(rels) == {"first", "prev", "next", "last"}
    assert rels["prev"] == f"/api/v1/users?username={tag}&page=1&per_page=2"

    last = listing(stack, q + "&page=3")
    assert ids_of(last) == ids[4:] and last.json()["total"] == 5
    rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(last.headers["Link"])}
    assert set(rels) == {"first", "prev", "last"}
    assert rels["first"] == f"/api/v1/users?username={tag}&page=1&per_page=2"

    past = listing(stack, q + "&page=4")
    assert past.status_code == 200
    assert past.json()["items"] == [] and past.json()["total"] == 5 and past.json()["page"] == 4
    far = listing(stack, q + "&page=1000000")
    assert far.status_code == 200 and far.json()["items"] == []

    whole = listing(stack, f"username={tag}&per_page=100")
    assert ids_of(whole) == ids and whole.json()["per_page"] == 100
    rels = {l["rel"] for l in requests.utils.parse_header_links(whole.headers["Link"])}
    assert rels == {"first", "last"}

    nothing = listing(stack, f"username={tag}zzz")
    assert nothing.json()["total"] == 0 and nothing.json()["items"] == []
    rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(nothing.headers["Link"])}
    assert rels["last"] == f"/api/v1/users?username={tag}zzz&page=1&per_page=10"
