"""HTTP and nng helpers shared by the API test files: problem+json checks,
users with unique names, log-in, self-minted tokens, roostctl calls, and the
strict reading of every JSON body that conftest.py installs for all tests."""
import json
import os
import time
import uuid
from urllib.parse import quote

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


def person(stack):
    """A new user with a token of its own: the user's fields plus "token"."""
    u = create_user(stack)
    u["token"] = token_for(stack, u["username"])
    return u


def call(stack, op, request=None):
    """roostctl call: (exit code, reply envelope)."""
    args = ["call", op] + ([json.dumps(request)] if request is not None else [])
    r = stack.roostctl(*args)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)


class NotStrictJson(AssertionError):
    pass


def _refuse_repeats(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise NotStrictJson(f"an object repeats a key: {keys}")
    return dict(pairs)


def _refuse_constant(name):
    raise NotStrictJson(f"{name} is not JSON (RFC 8259)")


def strict_json(body: bytes):
    """The value of a JSON body, read strictly: UTF-8 (RFC 8259 §8.1) with no
    byte order mark, no repeated keys, no NaN/Infinity. Raises otherwise."""
    if body.startswith(b"\xef\xbb\xbf"):
        raise NotStrictJson("a JSON body starts with a byte order mark")
    try:
        text = body.decode("utf-8", errors="strict")
    except UnicodeDecodeError as e:
        raise NotStrictJson(f"a JSON body is not UTF-8: {e}") from None
    try:
        return json.loads(text, object_pairs_hook=_refuse_repeats, parse_constant=_refuse_constant)
    except json.JSONDecodeError as e:
        raise NotStrictJson(f"a JSON body does not parse: {e}: {text[:200]!r}") from None


def is_json_type(content_type):
    media = (content_type or "").split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def check_response(response):
    """Every response a test reads: a JSON content type means a body that is
    strictly JSON, and a body without a content type is refused too."""
    if response.request.method == "HEAD" or response.status_code in (204, 304):
        assert not response.content, f"{response.status_code} with a body"
        return
    ctype = response.headers.get("Content-Type")
    if is_json_type(ctype):
        strict_json(response.content)
    elif response.content and ctype is None:
        raise NotStrictJson(f"a {response.status_code} body without a Content-Type")


def install_strict_json():
    """Wraps requests' Session.send so that every test checks every body."""
    if getattr(requests.sessions.Session.send, "_roost_strict", False):
        return
    original = requests.sessions.Session.send

    def send(self, request, **kwargs):
        response = original(self, request, **kwargs)
        if not kwargs.get("stream"):
            check_response(response)
        return response

    send._roost_strict = True
    requests.sessions.Session.send = send


def get_query(stack, path, **params):
    """GET path with params percent-encoded (commas kept, as lists are sent)."""
    q = "&".join(f"{k}={quote(str(v), safe=',')}" for k, v in params.items())
    return requests.get(stack.url(f"{path}?{q}"), timeout=15)


def every_page(stack, path, **params):
    """The items of every page of a list, through its Link headers; the total
    checked against them (and that no item comes twice)."""
    r = get_query(stack, path, **params)
    assert r.status_code == 200, r.text
    total, items = r.json()["total"], r.json()["items"]
    while "next" in r.links:
        r = requests.get(stack.url(r.links["next"]["url"]), timeout=15)
        assert r.status_code == 200, r.text
        items += r.json()["items"]
    assert len(items) == total == len({i["id"] for i in items}), (len(items), total)
    return items
