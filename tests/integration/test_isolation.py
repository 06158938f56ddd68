"""One database per service, joins over nng, and a service that is down
costs only the requests that need it."""
import time

import requests

from roost_stack import Stack

POOLS = [["users"], ["listings"], ["properties", "places"]]


def test_each_service_owns_its_database_and_a_stopped_users_pool_fails_fast():
    stack = Stack(workers=1, pools=POOLS)
    try:
        stack.start()
        uid = requests.post(stack.url("/users"), data={"name": "Iso Lated"}, timeout=10).json()["user"]["id"]
        r = requests.post(stack.url("/listings"), data={"user_id": uid, "listing_type": "rent", "price": "1200"},
                          timeout=10)
        assert r.status_code == 200, r.text
        assert requests.get(stack.url("/public-api/listings"), timeout=10).json()["listings"][0]["user"]["id"] == uid

        # Each service's database holds only that service's collections.
        db = stack.mongo()
        # Each also records its own migrations (roostctl migrate).
        ops = {"migrations", "migration_locks", "migration_log"}
        expected = {"users": {"users", "id_blocks"} | ops, "listings": {"listings", "id_blocks"} | ops}
        for service, collections in expected.items():
            names = set(db[stack.prefix + service].list_collection_names())
            assert names <= collections | {"emails"} if service == "users" else names <= collections, names
        assert "users" not in db[stack.prefix + "listings"].list_collection_names()
        assert "listings" not in db[stack.prefix + "users"].list_collection_names()
        db.close()

        stack.stop_process("pool-users")
        t = time.monotonic()
        r = requests.get(stack.url("/public-api/listings"), timeout=15)
        elapsed = time.monotonic() - t
        assert r.status_code == 503, r.text
        assert r.json()["result"] is False and r.json()["errors"]
        assert elapsed < 3.0, elapsed  # fast: the deadline is 10 s (generous for sanitized builds)

        # The listings service itself still answers.
        r = requests.get(stack.url("/listings"), timeout=10)
        assert r.status_code == 200 and r.json()["listings"][0]["user_id"] == uid

        stack.start_pool("pool-users")
        deadline = time.monotonic() + 20
        while requests.get(stack.url("/public-api/listings"), timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "the users pool did not come back"
            time.sleep(0.2)
    finally:
        stack.stop()
