"""The RESO Web API face (/reso/odata, docs/reso.md), read by an independent
OData 4 client, python-odata 0.8.1 (PyPI): it reads $metadata and runs
filtered, selected, ordered and paged queries; and by plain HTTP for the
OData JSON format's details (context, count, nextLink, error objects)."""
import datetime as dt
import xml.etree.ElementTree as ET
from decimal import Decimal
from urllib.parse import quote

import pytest
import requests
from odata import ODataService
from odata.exceptions import ODataError

from roost_api import person, send, unique

EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
FIELDS = ["ListingKey", "ListPrice", "StandardStatus", "ListAgentKey", "ModificationTimestamp", "PropertyType",
          "City", "UnparsedAddress", "BedroomsTotal", "BathroomsTotalInteger", "RoomsTotal", "LivingArea",
          "LivingAreaUnits", "Latitude", "Longitude", "Coordinates", "PhotosCount"]
MEDIA_FIELDS = ["MediaKey", "ResourceRecordKey", "ResourceName", "MediaURL", "MediaCategory", "Order", "ImageWidth",
                "ImageHeight", "ModificationTimestamp"]


@pytest.fixture(scope="module")
def estate(stack):
    """An agent with 12 listings: 10 on properties in two cities of their own, 2 without a property."""
    agent = person(stack)
    paris, lyon = unique("Paris"), unique("Lyon")
    listings = []
    for i in range(12):
        prop = None
        if i < 10:
            rooms = [{"name": f"B{j}", "kind": "bedroom", "area_m2": 10 + j, "characteristics": {}} for j in range(i % 3)]
            rooms.append({"name": "K", "kind": "kitchen", "area_m2": 7.5, "characteristics": {}})
            body = {"name": f"Home {i}", "type": "house" if i % 2 else "apartment", "city": paris if i < 5 else lyon,
                    "address": f"{i} Main Street", "rooms": rooms}
            if i % 3:
                body["location"] = {"lat": 48.85 + i / 100, "lon": 2.35 - i / 100}
            prop = send(stack, "POST", "/api/v1/properties", body, token=agent["token"]).json()
        body = {"listing_type": "sale", "price": 100000 + 5000 * i}
        if prop:
            body["property_id"] = prop["id"]
        r = send(stack, "POST", "/api/v1/listings", body, token=agent["token"])
        assert r.status_code == 201, r.text
        listings.append((r.json(), prop))
    return {"agent": agent, "paris": paris, "lyon": lyon, "listings": listings}


@pytest.fixture(scope="module")
def service(stack, estate):
    return ODataService(stack.url("/reso/odata/"), reflect_entities=True)


def test_metadata_is_csdl_with_the_property_entity(stack):
    r = requests.get(stack.url("/reso/odata/$metadata"), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/xml"
    assert r.headers["OData-Version"] == "4.0"
    root = ET.fromstring(r.content)
    entity, media = root.iter(EDM + "EntityType")
    assert entity.get("Name") == "Property" and media.get("Name") == "Media"
    assert [p.get("Name") for p in entity.iter(EDM + "PropertyRef")] == ["ListingKey"]
    assert [p.get("Name") for p in entity.iter(EDM + "Property")] == FIELDS
    (nav,) = entity.iter(EDM + "NavigationProperty")
    assert nav.get("Name") == "Media" and nav.get("Type") == "Collection(org.reso.metadata.Media)"
    assert [p.get("Name") for p in media.iter(EDM + "PropertyRef")] == ["MediaKey"]
    assert [p.get("Name") for p in media.iter(EDM + "Property")] == MEDIA_FIELDS
    entity_set, media_set = root.iter(EDM + "EntitySet")
    assert entity_set.get("Name") == "Property" and entity_set.get("EntityType").endswith(".Property")
    assert media_set.get("Name") == "Media" and media_set.get("EntityType").endswith(".Media")
    doc = requests.get(stack.url("/reso/odata"), timeout=10).json()
    assert doc["value"] == [{"name": "Property", "kind": "EntitySet", "url": "Property"},
                            {"name": "Media", "kind": "EntitySet", "url": "Media"}]


def test_an_entity_is_a_listing_joined_with_its_property(stack, estate):
    agent = estate["agent"]
    r = requests.get(stack.url(f"/reso/odata/Property?$filter=" + quote(f"ListAgentKey eq '{agent['id']}'") +
                               "&$top=100"), timeout=10)
    assert r.status_code == 200 and r.headers["OData-Version"] == "4.0", r.text
    body = r.json()
    assert body["@odata.context"] == "$metadata#Property" and "@odata.nextLink" not in body
    got = {e["ListingKey"]: e for e in body["value"]}
    assert len(got) == 12
    for listing, prop in estate["listings"]:
        e = got[str(listing["id"])]
        assert list(e) == FIELDS
        assert e["ListPrice"] == listing["price"] and e["StandardStatus"] == "Active"
        assert e["ListAgentKey"] == str(agent["id"])
        t = dt.datetime.strptime(e["ModificationTimestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.timezone.utc)
        assert round(t.timestamp() * 1e6) == listing["updated_at"]
        if prop is None:
            assert all(e[k] is None for k in FIELDS[5:])
            continue
        assert (e["PropertyType"], e["City"], e["UnparsedAddress"]) == (prop["type"], prop["city"], prop["address"])
        assert e["BedroomsTotal"] == sum(r["kind"] == "bedroom" for r in prop["rooms"])
        assert e["BathroomsTotalInteger"] == sum(r["kind"] == "bathroom" for r in prop["rooms"])
        assert e["RoomsTotal"] == len(prop["rooms"])
        assert (e["Latitude"], e["Longitude"]) == ((prop["location"] or {}).get("lat"), (prop["location"] or {}).get("lon"))
        loc = prop["location"]
        assert e["Coordinates"] == ({"type": "Point", "coordinates": [loc["lon"], loc["lat"]]} if loc else None)
        assert e["LivingArea"] == sum(r["area_m2"] for r in prop["rooms"]) and e["LivingAreaUnits"] == "Square Meters"


def test_an_odata_client_filters_selects_orders_and_pages(service, estate):
    P = service.entities["Property"]
    agent = str(estate["agent"]["id"])
    mine = [(l, p) for l, p in estate["listings"]]
    # Filtered on a property field and a listing field, ordered by price descending.
    q = service.query(P).filter(P.ListAgentKey == agent).filter(P.City == estate["paris"]) \
        .filter(P.ListPrice >= 105000).order_by(P.ListPrice.desc())
    got = [(e.ListingKey, e.ListPrice) for e in q]
    want = sorted(((str(l["id"]), Decimal(l["price"])) for l, p in mine
                   if p and p["city"] == estate["paris"] and l["price"] >= 105000), key=lambda x: -x[1])
    assert got == want and len(got) == 4
    # Selected fields only (the key always comes back).
    q = service.query(P).filter(P.ListAgentKey == agent).select(P.ListingKey, P.City).limit(3)
    rows = [e for e in q]  # with $select the client gives the fields as a dict
    assert len(rows) == 3 and all(set(e) == {"ListingKey", "City"} for e in rows)
    assert all(e["City"] in (estate["paris"], estate["lyon"], None) for e in rows)
    # Paged: the client follows @odata.nextLink (no $top of its own) through every window.
    everything = [e.ListingKey for e in service.query(P).filter(P.ListAgentKey == agent).order_by(P.ListingKey.asc())]
    assert sorted(everything, key=int) == sorted((str(l["id"]) for l, _ in mine), key=int)
    # $skip and $top by hand.
    q = service.query(P).filter(P.ListAgentKey == agent).order_by(P.ListPrice.asc()).offset(10).limit(5)
    assert [e.ListPrice for e in q] == [Decimal(100000 + 5000 * i) for i in (10, 11)]
    # Living area, a decimal, and the rooms on the property's side.
    q = service.query(P).filter(P.ListAgentKey == agent).filter(P.LivingArea > 20).filter(P.RoomsTotal == 3)
    assert sorted(e.ListingKey for e in q) == sorted(
        str(l["id"]) for l, p in mine if p and len(p["rooms"]) == 3 and sum(r["area_m2"] for r in p["rooms"]) > 20)


def test_every_documented_key_literal_is_accepted(stack, estate):
    """docs/reso.md: keys compare as the numbers they are, '012' is '12'.
    Zero-padded and very long keys are keys too: a long one matches no
    listing, and says so with an empty page rather than a 400."""
    listing = estate["listings"][0][0]
    agent = estate["agent"]["id"]

    def keys(filter_text):
        r = requests.get(stack.url("/reso/odata/Property?$filter=" + quote(filter_text) + "&$top=100"), timeout=10)
        assert r.status_code == 200, (filter_text, r.text)
        return [e["ListingKey"] for e in r.json()["value"]]

    padded = str(listing["id"]).zfill(30)
    assert keys(f"ListingKey eq '{padded}'") == [str(listing["id"])]
    assert keys(f"ListingKey eq '0{listing['id']}' and ListAgentKey eq '{str(agent).zfill(25)}'") == [str(listing["id"])]
    assert keys("ListingKey eq '99999999999999999999999999'") == []
    assert keys(f"ListingKey lt '99999999999999999999999999' and ListAgentKey eq '{agent}'") != []
    assert keys(f"ListingKey in ('{padded}', '000') and ListAgentKey eq '{agent}'") == [str(listing["id"])]


def test_limits_judge_what_the_client_sent(stack, estate):
    """A 570-character $filter of decimals is within the 2000-character
    limit: the property conditions Roost re-prints for the properties
    service must not be judged longer than the client's own text (0.3 is
    printed 0.3, not 0.29999999999999999)."""
    # 100 decimals with no short binary form, each of which %.17g writes in 18+ characters.
    decimals = [k / 10 for k in range(1, 1000) if len("%.17g" % (k / 10)) >= 18][:100]
    values = ", ".join(f"{v:.1f}" for v in decimals)
    text = f"LivingArea in ({values}) and ListAgentKey eq '{estate['agent']['id']}'"
    assert len(text) < 700
    r = requests.get(stack.url("/reso/odata/Property?$filter=" + quote(text)), timeout=10)
    assert r.status_code == 200, r.text


def test_limits_judge_what_the_client_sent_not_the_longer_names_roost_rewrites_to(stack, estate):
    """A $filter just under 2000 characters whose property conditions grow
    when Roost re-prints them for the properties service (LivingArea is
    living_area_m2 there, four characters more each time) is still the
    client's 2000 characters, and is answered; 2001 is still refused."""
    terms = " or ".join(f"LivingArea eq {k}" for k in range(1, 31))
    head = f"ListAgentKey eq '{estate['agent']['id']}' and ({terms}) and City ne '"
    text = head + "x" * (1999 - len(head)) + "'"
    assert len(text) == 2000
    r = requests.get(stack.url("/reso/odata/Property?$filter=" + quote(text)), timeout=10)
    assert r.status_code == 200, r.text[:300]
    r = requests.get(stack.url("/reso/odata/Property?$filter=" + quote(text[:-1] + "x'")), timeout=10)
    assert r.status_code == 400 and "longer than 2000 characters" in r.text, r.text[:300]


def test_count_and_next_link(stack, estate):
    agent = estate["agent"]["id"]
    f = quote(f"ListAgentKey eq '{agent}'")
    first = requests.get(stack.url(f"/reso/odata/Property?$filter={f}&$top=5&$count=true&$orderby=ListPrice"),
                         timeout=10).json()
    assert first["@odata.count"] == 12 and len(first["value"]) == 5
    seen = [e["ListingKey"] for e in first["value"]]
    link = first["@odata.nextLink"]
    while link:
        assert link.startswith("Property?") and "%24skip=" in link
        page = requests.get(stack.url("/reso/odata/" + link), timeout=10).json()
        assert page["@odata.count"] == 12
        seen += [e["ListingKey"] for e in page["value"]]
        link = page.get("@odata.nextLink")
    assert len(seen) == 12 and len(set(seen)) == 12
    assert [int(k) for k in seen] == [l["id"] for l, _ in sorted(estate["listings"], key=lambda x: x[0]["price"])]


@pytest.mark.parametrize("options, target, words", [
    ("$filter=Bogus eq 1", "$filter", "'Bogus' is not a field"),
    ("$filter=ListPrice eq 'abc'", "$filter", "ListPrice is an integer"),
    ("$filter=ListingKey eq 'x1'", "$filter", "ListingKey is a key"),
    ("$filter=City eq 'Paris' or ListPrice gt 1", "$filter", "combine such conditions with and only"),
    ("$filter=StandardStatus gt 'A'", "$filter", "StandardStatus is compared with eq or ne only"),
    ("$filter=PropertyType eq 'castle'", "$filter", "at character 17: PropertyType is one of 'apartment'"),
    ("$filter=contains(StandardStatus, 'Act')", "$filter", "StandardStatus is compared with eq, ne or in only"),
    ("$filter=tolower(StandardStatus) eq 'active'", "$filter", "StandardStatus is compared with eq, ne or in only"),
    ("$orderby=City", "$orderby", "'City' is not a field that can be ordered by"),
    ("$top=500", "$top", "from 0 to 100"),
    ("$expand=Member", "$expand", "only Media can be expanded"),
    ("page=2", "page", "unknown option"),
])
def test_errors_are_odata_error_objects(stack, options, target, words):
    name, _, value = options.partition("=")
    r = requests.get(stack.url(f"/reso/odata/Property?{name}={quote(value)}"), timeout=10)
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json", r.text
    assert r.headers["OData-Version"] == "4.0"
    error = r.json()["error"]
    assert error["code"] == "validation_failed" and error["message"]
    assert error["innererror"]["request_id"] == r.headers["X-Request-Id"]
    assert [d["target"] for d in error["details"]] == [target]
    assert words in error["details"][0]["message"], error


def test_many_property_conditions_and_unknown_routes(stack, estate):
    # 32 conditions, most of them on the property: joined by and, they stay within every limit.
    f = " and ".join([f"City eq '{estate['paris']}'"] * 20 + ["RoomsTotal ge 0"] * 11 +
                     [f"ListAgentKey eq '{estate['agent']['id']}'"])
    r = requests.get(stack.url("/reso/odata/Property?$count=true&$filter=" + quote(f)), timeout=10)
    assert r.status_code == 200 and r.json()["@odata.count"] == 5, r.text
    # Under /reso/odata, a route that does not exist or a method a route does not take: OData errors too.
    for method, path, status in (("GET", "/reso/odata/Property('1')", 404), ("GET", "/reso/odata/Member", 404),
                                 ("POST", "/reso/odata/Property", 405), ("DELETE", "/reso/odata/Property", 405)):
        r = requests.request(method, stack.url(path), timeout=10)
        assert r.status_code == status and r.headers["OData-Version"] == "4.0", (path, r.text)
        assert r.json()["error"]["code"] in ("not_found", "method_not_allowed")


def test_status_is_active_for_every_live_listing(stack, estate):
    agent = estate["agent"]["id"]
    base = f"/reso/odata/Property?$count=true&$top=0&$filter="
    count = lambda f: requests.get(stack.url(base + quote(f"ListAgentKey eq '{agent}' and {f}")),
                                   timeout=10).json()["@odata.count"]
    assert count("StandardStatus eq 'Active'") == 12
    assert count("StandardStatus ne 'Active'") == 0
    assert count("StandardStatus in ('Active', 'Pending')") == 12
    assert count("StandardStatus eq 'Closed'") == 0
    r = requests.get(stack.url(base + quote("StandardStatus eq 'Sold'")), timeout=10)
    assert r.status_code == 400 and "StandardStatus is one of 'Active'" in r.text


def test_the_client_raises_on_an_error_object(service):
    P = service.entities["Property"]
    with pytest.raises(ODataError) as e:
        list(service.query(P).filter(P.ListPrice == "abc"))
    assert "validation_failed" in str(e.value)
