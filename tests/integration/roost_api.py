"""HTTP and nng helpers shared by the API test files: problem+json checks,
users with unique names, log-in, self-minted tokens, roostctl calls."""
import json
import os
import time
import uuid

import jwt
import requests

JSON = {"Content-Type": "application/json"}
DEV_SECRET = "roost-development-secret-do-not-use-in-production"
PASSWORD = "correct horse"


def secret():
    """The secret the stack signs with: the environment's, else the public dev one."""
    return os.environ.get("ROOST_JWT_SECRET") or DEV_SECRET


def token_ttl():
    return int(os.environ.get("ROOST_JWT_TTL_SECONDS", "3600"))


def unique(prefix="u"):
    """A fresh name fragment: letters and digits only, safe in usernames and cities."""
    return prefix + uuid.uuid4().hex[:10]


def mint(sub, key=None, exp_in=600, algorithm="HS256", **claims):
    """A token signed by the test itself (PyJWT); `sub` may be anything, None leaves it out."""
    now = int(time.time())
    payload = {"iat": now, "exp": now + exp_in}
    if sub is not None:
        payload["sub"] = sub
    payload.update(claims)
    payload = {k: v for k, v in payload.items() if v is not None}
    return jwt.encode(payload, key if key is not None else secret(), algorithm=algorithm)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def assert_problem(r, status, field=None, code=None):
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["Content-Type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == status
    assert p["title"] and p["detail"] and p["type"].startswith("urn:roost:problem:")
    assert p["type"] == "urn:roost:problem:" + p["code"]
    assert p["request_id"] == r.headers["X-Request-Id"]
    if field is not None:
        assert field in [e["field"] for e in p.get("errors", [])], p
    if code is not None:
        assert p["code"] == code, p
    return p


def send(stack, method, path, body=None, token=None, headers=None, raw=None):
    """One HTTP request; `body` is sent as JSON, `raw` as given."""
    h = dict(JSON) if (body is not None or raw is not None) else {}
    if token is not None:
        h.update(bearer(token))
    h.update(headers or {})
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return requests.request(method, stack.url(path), data=data, headers=h, timeout=15)


def user_body(username, **over):
    body = {
        "username": username,
        "password": PASSWORD,
        "first_name": "Grace",
        "last_name": "Hopper",
        "birth_date": "1985-06-15",
    }
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def create_user(stack, username=None, **over):
    username = username or unique()
    r = send(stack, "POST", "/api/v1/users", user_body(username, **over))
    assert r.status_code == 201, r.text
    return r.json()


def login(stack, username, password=PASSWORD):
    return send(stack, "POST", "/api/v1/auth/token", {"username": username, "password": password})


def token_for(stack, username, password=PASSWORD):
    r = login(stack, username, password)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def call(stack, op, request=None):
    """roostctl call: (exit code, reply envelope)."""
    args = ["call", op] + ([json.dumps(request)] if request is not None else [])
    r = stack.roostctl(*args)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)
