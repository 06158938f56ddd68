"""Internal callers skip HTTP: roostctl call talks nng straight to the pool
and gets exactly the same validation and data as an HTTP client."""
import json

from roost_stack import new_user


def call(stack, op, request=None):
    args = ["call", op] + ([json.dumps(request)] if request is not None else [])
    r = stack.roostctl(*args)
    assert r.stdout, r.stderr
    return r.returncode, json.loads(r.stdout)


def test_ping(stack):
    code, reply = call(stack, "sys.ping")
    assert code == 0 and reply["v"] == 1 and reply["status"] == 200 and reply["body"]["pong"] is True
    assert len(reply["rid"]) == 32


def test_create_and_get_over_nng(stack, db):
    code, reply = call(stack, "users.create", {"body": new_user(300)})
    assert code == 0 and reply["status"] == 201, reply
    uid = reply["body"]["id"]
    assert db[stack.prefix + "users"]["users"].count_documents({"_id": uid, "username": "user300"}) == 1

    code, reply = call(stack, "users.get", {"params": {"id": uid}})
    assert code == 0 and reply["body"]["username"] == "user300"
    # Path parameters arrive from HTTP as strings; a direct caller may send either.
    code, reply = call(stack, "users.get", {"params": {"id": str(uid)}})
    assert code == 0 and reply["body"]["id"] == uid


def test_same_validation_as_http(stack, db):
    code, reply = call(stack, "users.create", {"body": new_user(301, username={"$gt": ""}, password="x")})
    assert code == 1 and reply["status"] == 400
    fields = {e["field"] for e in reply["error"]["fields"]}
    assert fields == {"username", "password"}
    assert db[stack.prefix + "users"]["users"].count_documents({"last_name": "Lovelace301"}) == 0


def test_unknown_op_and_bad_envelope(stack):
    code, reply = call(stack, "users.nothing")
    assert code == 1 and reply["status"] == 404 and reply["error"]["code"] == "unknown_op"
    r = stack.roostctl("call", "users.get", '{"params": 5}')
    assert r.returncode == 2 and "params" in r.stderr


def test_list_over_nng(stack):
    code, reply = call(stack, "users.list", {"query": {"per_page": 2}})
    assert code == 0 and reply["body"]["per_page"] == 2 and len(reply["body"]["items"]) <= 2
