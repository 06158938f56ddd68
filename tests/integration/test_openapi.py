"""GET /openapi.json serves exactly the repository's openapi.json, and it is
a valid OpenAPI 3.1 document. (tests/unit/contract_test.c checks that it, the
routing table and the workers' op tables describe the same API.)"""
import json
import os

import requests
from openapi_spec_validator import validate

from roost_stack import ROOT


def test_served_spec_is_the_repository_file_and_valid(stack):
    r = requests.get(stack.url("/openapi.json"), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    with open(os.path.join(ROOT, "openapi.json")) as f:
        assert r.json() == json.load(f)
    validate(r.json())


# --- every documented answer matches its schema ----------------------------------

import pytest
from openapi_schema_validator import OAS31Validator

from roost_api import person, send, unique

SPEC = json.load(open(os.path.join(ROOT, "openapi.json")))


def schema_errors(template, method, r):
    """What of response `r` breaks the schema openapi.json documents for it."""
    op = SPEC["paths"][template][method]
    doc = op["responses"].get(str(r.status_code))
    assert doc is not None, f"{method.upper()} {template} answered {r.status_code}, which it does not document"
    if "$ref" in doc:
        doc = SPEC["components"]["responses"][doc["$ref"].split("/")[-1]]
    ctype = r.headers.get("Content-Type", "").split(";")[0]
    if "content" not in doc:
        return []
    assert ctype in doc["content"], f"{method.upper()} {template} {r.status_code}: {ctype} is not documented"
    schema = dict(doc["content"][ctype]["schema"], components=SPEC["components"])
    return [e.message for e in OAS31Validator(schema).iter_errors(r.json())]


@pytest.fixture(scope="module")
def some(stack):
    """A user with a property and a listing, so that every list has items."""
    u = person(stack)
    body = {"name": "Schema flat", "type": "apartment", "city": unique("Schemaville"), "address": "1 Main Street",
            "rooms": [{"name": "Room", "kind": "bedroom", "area_m2": 12, "characteristics": {}}]}
    prop = send(stack, "POST", "/api/v1/properties", body, token=u["token"]).json()
    listing = send(stack, "POST", "/api/v1/listings", {"listing_type": "rent", "price": 900, "property_id": prop["id"]},
                   token=u["token"]).json()
    return {"user": u, "property": prop, "listing": listing}


@pytest.mark.parametrize("template,url", [
    ("/api/v1/listings", "/api/v1/listings?per_page=5"),
    ("/api/v1/listings", "/api/v1/listings?$top=3&$count=true"),
    ("/api/v1/listings", "/api/v1/listings?$select=price&$top=3"),
    ("/api/v1/listings", "/api/v1/listings?$select=price,listing_type&$orderby=price%20desc"),
    ("/api/v1/properties", "/api/v1/properties?per_page=3"),
    ("/api/v1/properties", "/api/v1/properties?$select=name&$top=3"),
    ("/api/v1/properties", "/api/v1/properties?$filter=room_count%20ge%201&$select=city,living_area_m2"),
    ("/api/v1/users", "/api/v1/users?per_page=3"),
    ("/api/v1/places", "/api/v1/places?per_page=3"),
    ("/api/v1/cities", "/api/v1/cities"),
    ("/api/v1/listings", "/api/v1/listings?$select=nosuch"),
    ("/api/v1/properties", "/api/v1/properties?per_page=0"),
])
def test_list_answers_match_their_schemas(stack, some, template, url):
    r = requests.get(stack.url(url), timeout=10)
    assert not schema_errors(template, "get", r), (url, r.text[:500])


def test_single_answers_match_their_schemas(stack, some):
    for template, url in [("/api/v1/properties/{id}", f"/api/v1/properties/{some['property']['id']}"),
                          ("/api/v1/listings/{id}", f"/api/v1/listings/{some['listing']['id']}"),
                          ("/api/v1/users/{id}", f"/api/v1/users/{some['user']['id']}"),
                          ("/api/v1/properties/{id}", "/api/v1/properties/999999999")]:
        r = requests.get(stack.url(url), timeout=10)
        assert not schema_errors(template, "get", r), (url, r.text[:500])
