"""Keyword search, q= (docs/search.md): on properties and listings, over HTTP
and nng, against a real roost-embedded-db. Every answer is compared with a
brute force over the homes this file makes, each carrying a word of its own
so that other tests' data cannot match; words are folded here by Python's
own Unicode tables (NFKD, casefold, marks dropped), not Roost's."""
import random
import re
import string
import time
import unicodedata

import pytest

from roost_api import assert_problem, call, every_page, get_query, person, send

PATHS = ("/api/v1/listings", "/api/v1/properties")


def fold_words(text):
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return set(re.findall(r"[^\W_]+", unicodedata.normalize("NFKC", plain)))


def get(stack, path, **params):
    return get_query(stack, path, **params)


def every_item(stack, path, **params):
    params.setdefault("per_page", 3)
    return every_page(stack, path, **params)


TEXTS = [
    ("Terrasse vue mer", "Grande TERRASSE plein sud.", "1 quai de la Marine", "Sète"),
    ("Appartement lumineux", "Vue sur la mer depuis la terrasse, calme.", "4 rue Haute", "Sète"),
    ("Maison de l'Été", "Jardin, piscine; près de la Große Straße.", "9 chemin Vert", "Montpellier"),
    ("Studio calme", "Idéal étudiant, 42 m² refait à neuf.", "2 avenue Foch", "Nîmes"),
    ("Villa Zoë", "Vue dégagée, ÉTÉ comme hiver, terrasse couverte et terrasse ouverte.", "7 allée des Pins",
     "Montpellier"),
    ("Loft industriel", "Ancienne usine, grands volumes.", "12 Strasse der Einheit", "Berlin"),
]


@pytest.fixture(scope="module")
def words(stack):
    tag = "w" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    owner = person(stack)
    homes = []
    for i, (name, description, address, city) in enumerate(TEXTS):
        body = {"name": f"{name} {tag}", "description": description, "type": "apartment", "city": city,
                "address": address, "rooms": [{"name": "B", "kind": "bedroom", "area_m2": 10}] * (i % 3),
                "location": {"lat": 43.4 + i / 100, "lon": 3.6 + i / 100}}
        r = send(stack, "POST", "/api/v1/properties", body, token=owner["token"])
        assert r.status_code == 201, r.text
        prop = r.json()
        r = send(stack, "POST", "/api/v1/listings", {"property_id": prop["id"], "price": 1000 + 100 * (i * 7 % 6),
                                                     "listing_type": "sale"}, token=owner["token"])
        assert r.status_code == 201, r.text
        homes.append({"prop": prop, "listing": r.json(), "words": fold_words(" ".join(body[f] for f in (
            "name", "description", "address", "city")))})
    return {"tag": tag, "owner": owner, "homes": homes}


def brute(homes, q, kind):
    asked = fold_words(q)
    return {h[kind]["id"] for h in homes if asked <= h["words"]}


QUERIES = ["terrasse", "TERRASSE vue", "Vue   MER", "ete", "été", "ÉTÉ piscine", "strasse", "straße", "zoe",
           "sete", "SÈTE calme", "42", "m2", "m²", "l ete", "terrasse absentword", "nimes", "montpellier jardin"]


@pytest.mark.parametrize("path", PATHS)
def test_words_are_anded_folded_and_ranked(stack, words, path):
    kind = "listing" if path.endswith("listings") else "prop"
    seen_any = 0
    for q in QUERIES:
        items = every_item(stack, path, q=f"{q} {words['tag']}")
        want = brute(words["homes"], f"{q} {words['tag']}", kind)
        assert {i["id"] for i in items} == want, q
        seen_any += len(want)
        scores = [i["score"] for i in items]
        assert all(isinstance(s, float) and s > 0 for s in scores), items
        assert scores == sorted(scores, reverse=True), (q, scores)  # best matches first
    assert seen_any > 0


@pytest.mark.parametrize("path", PATHS)
def test_a_word_in_the_name_ranks_before_one_in_the_description(stack, words, path):
    kind = "listing" if path.endswith("listings") else "prop"
    items = every_item(stack, path, q=f"terrasse {words['tag']}", order_by="relevance")
    by_id = {h[kind]["id"]: h for h in words["homes"]}
    first = by_id[items[0]["id"]]
    assert "Terrasse" in first["prop"]["name"], [by_id[i["id"]]["prop"]["name"] for i in items]


def test_other_orders_and_filters_combine_with_words(stack, words):
    tag = words["tag"]
    items = every_item(stack, "/api/v1/listings", q=f"vue {tag}", order_by="price")
    prices = [i["price"] for i in items]
    assert prices == sorted(prices) and len(items) == len(brute(words["homes"], f"vue {tag}", "listing"))
    assert all("score" in i for i in items)
    items = every_item(stack, "/api/v1/listings", q=f"montpellier {tag}", min_bedrooms=1)
    want = {h["listing"]["id"] for h in words["homes"]
            if "montpellier" in h["words"] and h["prop"]["bedrooms"] >= 1}
    assert {i["id"] for i in items} == want and want
    # Inside a box around the first three homes only.
    items = every_item(stack, "/api/v1/properties", q=tag, bbox="3.595,43.395,3.625,43.425")
    assert {i["id"] for i in items} == {h["prop"]["id"] for h in words["homes"][:3]}
    items = every_item(stack, "/api/v1/properties", q=tag, order_by="-created_at")
    assert [i["id"] for i in items] == [h["prop"]["id"] for h in reversed(words["homes"])]
    r = get(stack, "/api/v1/listings/facets", q=f"terrasse {tag}", fields="bedrooms")
    assert r.status_code == 200, r.text
    assert r.json()["total"] == len(brute(words["homes"], f"terrasse {tag}", "listing"))
    assert sum(f["count"] for f in r.json()["facets"]["bedrooms"]) == r.json()["total"]


def test_a_changed_description_is_searched_within_two_seconds(stack, words):
    tag, owner = words["tag"], words["owner"]
    home = words["homes"][3]
    fresh = "w" + "".join(random.choice(string.ascii_lowercase) for _ in range(10))
    r = send(stack, "PATCH", f"/api/v1/properties/{home['prop']['id']}",
             {"description": f"Désormais avec véranda {fresh}"}, token=owner["token"])
    assert r.status_code == 200, r.text
    assert [i["id"] for i in every_item(stack, "/api/v1/properties", q=f"VERANDA {fresh}")] == [home["prop"]["id"]]
    started = time.monotonic()
    while True:
        got = [i["id"] for i in every_item(stack, "/api/v1/listings", q=f"veranda {fresh} {tag}")]
        if got == [home["listing"]["id"]] or time.monotonic() - started > 2:
            break
        time.sleep(0.05)
    assert got == [home["listing"]["id"]], "the listing search did not see the new words within 2 s"
    # The old description's words are gone from both.
    assert every_item(stack, "/api/v1/properties", q=f"etudiant {tag}") == []
    started = time.monotonic()
    while every_item(stack, "/api/v1/listings", q=f"etudiant {tag}") and time.monotonic() - started < 2:
        time.sleep(0.05)
    assert every_item(stack, "/api/v1/listings", q=f"etudiant {tag}") == []
    # A renamed property's new name is found; the rooms write keeps the words.
    r = send(stack, "POST", f"/api/v1/properties/{home['prop']['id']}/rooms",
             {"name": "Bath", "kind": "bathroom", "area_m2": 4}, token=owner["token"])
    assert r.status_code == 201, r.text
    assert [i["id"] for i in every_item(stack, "/api/v1/properties", q=f"veranda {fresh}")] == [home["prop"]["id"]]


def test_bad_words_and_orders_are_400_naming_them(stack):
    cases = [
        ({"q": ""}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"q": "!!! --- ..."}, "q"),
        ({"q": " ".join(f"w{i}" for i in range(21))}, "q"),
        ({"q": "\u0007bell"}, "q"),
        ({"order_by": "relevance"}, "order_by"),
        ({"q": "vue", "order_by": "-relevance"}, "order_by"),
        ({"q": "vue", "order_by": "distance", "near": "43.4,3.6", "radius_m": 1000}, "order_by"),
    ]
    for params, field in cases:
        for path in PATHS:
            assert_problem(get(stack, path, **params), 400, field=field)
    assert_problem(get(stack, "/api/v1/listings/facets", q="!!!", fields="type"), 400, field="q")
    # 200 characters and 20 different words are accepted.
    for path in PATHS:
        assert get(stack, path, q="x" * 200).status_code == 200
        assert get(stack, path, q=" ".join(f"w{i}" for i in range(20)) + " w0").status_code == 200


def test_nng_callers_search_words_too(stack, words):
    query = {"q": f"terrasse {words['tag']}", "per_page": "50"}
    for op, path in (("listings.list", "/api/v1/listings"), ("properties.list", "/api/v1/properties")):
        code, reply = call(stack, op, {"query": query})
        assert code == 0 and reply["status"] == 200, reply
        http = get(stack, path, **query).json()
        assert [i["id"] for i in reply["body"]["items"]] == [i["id"] for i in http["items"]]
        assert [i["score"] for i in reply["body"]["items"]] == [i["score"] for i in http["items"]]
    code, reply = call(stack, "listings.list", {"query": {"q": "..."}})
    assert reply["status"] == 400 and reply["error"]["fields"][0]["field"] == "q", reply


def test_odata_search_is_q_in_odata_words(stack, words):
    tag = words["tag"]
    for path, kind in (("/api/v1/listings", "listing"), ("/api/v1/properties", "prop")):
        r = get(stack, path, **{"$search": f'"Terrasse" AND (vue {tag})', "$count": "true", "$top": 50})
        assert r.status_code == 200, r.text
        body = r.json()
        assert {i["id"] for i in body["items"]} == brute(words["homes"], f"terrasse vue {tag}", kind)
        assert body["total"] == len(body["items"]) > 0
        scores = [i["score"] for i in body["items"]]
        assert scores == sorted(scores, reverse=True)
        r = get(stack, path, **{"$search": f"vue {tag}", "$select": "created_at", "$orderby": "created_at desc"})
        items = r.json()["items"]
        assert [set(i) for i in items] == [{"id", "created_at", "score"}] * len(items), items
        assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items), reverse=True)
        for bad in ("terrasse OR vue", "NOT vue", "!!!", "x" * 201):
            assert_problem(get(stack, path, **{"$search": bad}), 400, field="$search")
        r = get(stack, path, **{"$search": "vue", "$orderby": "geo.distance(location, geography'POINT(3.6 43.4)')"})
        assert_problem(r, 400, field="$orderby")
    # Where there is no text to search, $search is still refused by name.
    r = get(stack, "/api/v1/users", **{"$search": "x"})
    assert r.status_code == 400, r.text
