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
