"""Bearer tokens end to end: log-in issues them, the ingress verifies every
one it is shown, and refuses to start in production without a secret.

Tokens the tests mint themselves are signed with PyJWT, with the secret the
stack uses (ROOST_JWT_SECRET, else the public development secret)."""
import base64
import json
import os
import subprocess
import time

import jwt
import pytest
import requests

from roost_api import (DEV_SECRET, assert_problem, bearer, create_user, login, mint, secret, send, token_for,
                       token_ttl, unique, user_body)
from roost_stack import BUILD, free_port, port_open


def users_coll(stack, db):
    return db[stack.prefix + "users"]["users"]


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def b64url_json(obj):
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def unb64url_json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def me(stack, authorization=None):
    headers = {} if authorization is None else {"Authorization": authorization}
    return requests.get(stack.url("/api/v1/users/me"), headers=headers, timeout=10)


def assert_invalid_token(r):
    p = assert_problem(r, 401, code="invalid_token")
    challenge = r.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer"), challenge
    assert 'error="invalid_token"' in challenge
    return p


@pytest.fixture(scope="module")
def user(stack):
    """A registered user and a token the service issued for them."""
    u = create_user(stack)
    u["token"] = token_for(stack, u["username"])
    return u


# --- log-in refusals -----------------------------------------------------------

def test_wrong_password_and_unknown_user_are_the_same_401(stack, user):
    wrong = login(stack, user["username"], "not the password")
    unknown = login(stack, unique("nobody"), "not the password")
    p_wrong = assert_problem(wrong, 401, code="invalid_credentials")
    p_unknown = assert_problem(unknown, 401, code="invalid_credentials")
    # Nothing but the request id tells the two apart.
    p_wrong.pop("request_id"), p_unknown.pop("request_id")
    assert p_wrong == p_unknown
    assert "access_token" not in wrong.text and "access_token" not in unknown.text


def test_right_password_for_another_user_is_401(stack, user):
    other = create_user(stack, password="another secret")
    assert_problem(login(stack, user["username"], "another secret"), 401, code="invalid_credentials")
    assert_problem(login(stack, other["username"], "correct horse"), 401, code="invalid_credentials")


@pytest.mark.parametrize("body,fields", [
    ({}, {"username", "password"}),
    ({"username": "someone"}, {"password"}),
    ({"password": "correct horse"}, {"username"}),
    ({"username": "", "password": "correct horse"}, {"username"}),
    ({"username": "someone", "password": ""}, {"password"}),
    ({"username": 12345, "password": "correct horse"}, {"username"}),
    ({"username": "someone", "password": ["correct horse"]}, {"password"}),
    ({"username": {"$ne": None}, "password": {"$ne": None}}, {"username", "password"}),
    ({"username": "someone", "password": "correct horse", "remember": True}, {"remember"}),
    ({"username": "someone", "password": "correct horse", "$where": "1"}, {"$where"}),
])
def test_login_with_missing_or_bad_fields_is_400(stack, body, fields):
    r = send(stack, "POST", "/api/v1/auth/token", body)
    p = assert_problem(r, 400, code="validation_failed")
    assert {e["field"] for e in p["errors"]} == fields
    assert "access_token" not in r.text


def test_login_with_malformed_json_is_400(stack):
    assert_problem(send(stack, "POST", "/api/v1/auth/token", raw=b'{"username": "a", "password": '), 400)


# --- token refusals on a route that needs one ----------------------------------------

def test_no_token_is_401_with_bearer_challenge(stack):
    r = me(stack)
    assert_problem(r, 401, code="unauthorized")
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer  ", "Basic dXNlcjpwYXNz", "Token abc.def.ghi",
                                    "abc.def.ghi"])
def test_malformed_authorization_header_is_401(stack, header):
    assert_invalid_token(me(stack, header))


def test_basic_credentials_of_a_real_user_are_refused(stack, user):
    basic = base64.b64encode(f"{user['username']}:correct horse".encode()).decode()
    assert_invalid_token(me(stack, "Basic " + basic))


@pytest.mark.parametrize("token", ["not-a-token", "a.b", "a.b.c.d", "a.b.", "..", "eyJhbGciOiJIUzI1NiJ9.e30.x"])
def test_garbage_token_is_401(stack, token):
    assert_invalid_token(me(stack, "Bearer " + token))


def test_expired_token_is_401(stack, user):
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), exp_in=-5)))
    # exp long past, and exp exactly now, are refused too.
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), exp_in=-86400)))
    now = int(time.time())
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), iat=now - 10, exp=now - 1)))


def test_token_without_expiry_is_401(stack, user):
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), exp=None)))


def test_tampered_payload_is_401(stack, user):
    victim = create_user(stack)
    header, payload, signature = user["token"].split(".")
    claims = unb64url_json(payload)
    assert claims["sub"] == str(user["id"])
    claims["sub"] = str(victim["id"])
    forged = f"{header}.{b64url_json(claims)}.{signature}"
    assert_invalid_token(me(stack, "Bearer " + forged))
    # A longer life with the old signature is refused as well.
    claims = unb64url_json(payload)
    claims["exp"] += 3600
    assert_invalid_token(me(stack, f"Bearer {header}.{b64url_json(claims)}.{signature}"))


def test_tampered_signature_is_401(stack, user):
    header, payload, signature = user["token"].split(".")
    # The first character carries six full bits of the MAC (the last one may be padding).
    flipped = ("B" if signature[0] != "B" else "C") + signature[1:]
    assert_invalid_token(me(stack, f"Bearer {header}.{payload}.{flipped}"))
    assert_invalid_token(me(stack, f"Bearer {header}.{payload}.{signature[:-4]}"))
    assert_invalid_token(me(stack, f"Bearer {header}.{payload}.{signature}AAAA"))


def test_token_signed_with_another_secret_is_401(stack, user):
    other = "an-entirely-different-secret-of-enough-length"
    assert other != secret()
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), key=other)))
    if secret() != DEV_SECRET:  # a deployment with its own secret must not take dev-signed tokens
        assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), key=DEV_SECRET)))


def test_alg_none_token_is_401(stack, user):
    unsigned = jwt.encode({"sub": str(user["id"]), "exp": int(time.time()) + 600}, None, algorithm="none")
    assert_invalid_token(me(stack, "Bearer " + unsigned))
    # "none" in the header with a real signature after it is refused too.
    _, payload, signature = user["token"].split(".")
    none_header = b64url_json({"alg": "none", "typ": "JWT"})
    assert_invalid_token(me(stack, f"Bearer {none_header}.{payload}.{signature}"))


def test_other_algorithm_with_the_right_secret_is_401(stack, user):
    assert_invalid_token(me(stack, "Bearer " + mint(str(user["id"]), algorithm="HS512")))


@pytest.mark.parametrize("sub", ["0", "-1", "abc", "12abc", "", " 1", "+1", "1.5", "99999999999999999999999", None])
def test_token_whose_sub_is_not_a_positive_integer_is_401(stack, sub):
    assert_invalid_token(me(stack, "Bearer " + mint(sub)))


def test_invalid_token_on_a_public_route_is_401_and_does_nothing(stack, db, user):
    bad = "Bearer " + mint(str(user["id"]), exp_in=-5)
    r = requests.get(stack.url(f"/api/v1/users/{user['id']}"), headers={"Authorization": bad}, timeout=10)
    assert_invalid_token(r)
    assert_invalid_token(requests.get(stack.url("/api/v1/properties"), headers={"Authorization": bad}, timeout=10))
    assert_invalid_token(requests.get(stack.url("/api/v1/users"),
                                      headers={"Authorization": "Basic dXNlcjpwYXNz"}, timeout=10))
    # A public write with a bad token is refused before it reaches the worker.
    name = unique()
    assert_invalid_token(send(stack, "POST", "/api/v1/users", user_body(name), headers={"Authorization": bad}))
    assert users_coll(stack, db).count_documents({"username_key": name}) == 0
    assert_invalid_token(send(stack, "POST", "/api/v1/auth/token", {"username": user["username"],
                                                                     "password": "correct horse"},
                              headers={"Authorization": "Bearer x.y.z"}))


# --- start-up refusals --------------------------------------------------------------------

def start_ingress(env, seconds=10):
    """Runs roost-ingress with `env`; returns (exit code or None if it kept running, output, port was open)."""
    port = free_port()
    env = dict(env, ROOST_HTTP_PORT=str(port), ROOST_HTTP_HOST="127.0.0.1",
               ROOST_POOL_URL=f"tcp://127.0.0.1:{free_port()}")
    proc = subprocess.Popen([os.path.join(BUILD, "ingress", "roost-ingress")], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=seconds)
        return proc.returncode, out, False
    except subprocess.TimeoutExpired:
        listening = port_open(port)
        proc.kill()
        out, _ = proc.communicate(timeout=5)
        return None, out, listening
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def production_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    env["ROOST_ENV"] = "production"
    return env


def test_ingress_refuses_to_start_in_production_without_a_secret():
    code, out, _ = start_ingress(production_env())
    assert code is not None, "roost-ingress kept running in production without ROOST_JWT_SECRET"
    assert code != 0
    assert "ROOST_JWT_SECRET" in out, out


def test_ingress_refuses_to_start_in_production_with_a_short_secret():
    code, out, _ = start_ingress(dict(production_env(), ROOST_JWT_SECRET="too-short"))
    assert code is not None and code != 0, out
    assert "ROOST_JWT_SECRET" in out, out


# --- what works ----------------------------------------------------------------------

def test_login_issues_a_bearer_token(stack, user):
    before = int(time.time())
    r = login(stack, user["username"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == token_ttl()
    claims = jwt.decode(body["access_token"], secret(), algorithms=["HS256"])
    assert claims["sub"] == str(user["id"])
    assert before - 2 <= claims["iat"] <= int(time.time()) + 2
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert jwt.get_unverified_header(body["access_token"])["alg"] == "HS256"


def test_me_with_token_is_self(stack, user):
    r = me(stack, "Bearer " + user["token"])
    assert r.status_code == 200, r.text
    mine = r.json()
    assert mine["id"] == user["id"] and mine["username"] == user["username"]
    assert mine == requests.get(stack.url(f"/api/v1/users/{user['id']}"), timeout=10).json()
    assert not any("password" in k for k in mine)
    # The scheme name is case-insensitive (RFC 7235).
    assert me(stack, "bearer " + user["token"]).json()["id"] == user["id"]


def test_each_token_names_its_own_user(stack, user):
    other = create_user(stack)
    assert me(stack, "Bearer " + token_for(stack, other["username"])).json()["id"] == other["id"]
    assert me(stack, "Bearer " + user["token"]).json()["id"] == user["id"]


def test_self_minted_token_with_the_right_secret_is_accepted(stack, user):
    # Proves the refusals above are about what was changed, not about minting.
    r = me(stack, "Bearer " + mint(str(user["id"])))
    assert r.status_code == 200 and r.json()["id"] == user["id"]


def test_valid_token_on_a_public_route_is_fine(stack, user):
    h = bearer(user["token"])
    r = requests.get(stack.url(f"/api/v1/users/{user['id']}"), headers=h, timeout=10)
    assert r.status_code == 200 and r.json()["id"] == user["id"]
    assert requests.get(stack.url("/api/v1/users?per_page=1"), headers=h, timeout=10).status_code == 200
    assert requests.get(stack.url("/api/v1/properties?per_page=1"), headers=h, timeout=10).status_code == 200
    assert requests.get(stack.url("/api/v1/cities"), headers=h, timeout=10).status_code == 200
    assert login(stack, user["username"]).status_code == 200
    r = send(stack, "POST", "/api/v1/users", user_body(unique()), headers=h)
    assert r.status_code == 201, r.text


def test_ingress_starts_in_production_with_a_proper_secret():
    # The control for the two refusals above: the same start-up with a secret works.
    code, out, listening = start_ingress(dict(production_env(), ROOST_JWT_SECRET="x" * 40), seconds=3)
    assert code is None, f"exited {code}: {out}"
    assert listening, out
