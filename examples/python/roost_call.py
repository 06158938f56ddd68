"""roost_call.py: one protocol 1.1 request to a Roost worker pool, from
Python, with nothing of Roost but docs/protocol.md: pynng for the nng
REQ socket and pymongo's bson for the documents.

    python roost_call.py POOL_URL OP [JSON]

JSON holds the request's optional parts, as roostctl call takes them:
{"params": {...}, "query": {...}, "body": {...}, "auth": {"sub": 1},
"expect_version": [3]}. Prints the reply envelope as JSON; the exit status
is 0 for a 2xx reply, 1 for any other, 2 when none came.
"""
import json
import sys
import uuid

import bson
import pynng


def call(url, op, parts=None, timeout_ms=5000):
    """Sends one request and returns the reply envelope (a dict)."""
    request = {"v": 1, "minor": 1, "op": op, "rid": uuid.uuid4().hex}
    request.update(parts or {})
    with pynng.Req0(dial=url, recv_timeout=timeout_ms, send_timeout=timeout_ms) as sock:
        sock.send(bson.encode(request))
        return bson.decode(sock.recv())


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        reply = call(argv[1], argv[2], json.loads(argv[3]) if len(argv) > 3 else None)
    except pynng.exceptions.NNGException as e:
        print(f"roost_call: {e}", file=sys.stderr)
        return 2
    print(json.dumps(reply, default=str))
    return 0 if 200 <= reply.get("status", 0) < 300 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
