"""Self-check for the benchmark peers: starts a throwaway roost-embedded-db
(MongoDB wire protocol over SQLite) in a temp dir, seeds one user, runs setup.sh if needed, then starts each
peer, checks 200/404/400 on GET /api/v1/users/{id}, and stops everything by pid.

Usage: <python with pymongo> bench/peers/check.py [peer ...]
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from bson.int64 import Int64
from pymongo import MongoClient

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402

DB_BIN = os.path.expanduser("~/.cache/roost/bin/roost-embedded-db")
USER_ID = 1796066262925
FIELDS = {"username", "first_name", "last_name", "name", "birth_date",
          "created_at", "updated_at", "version"}
DOC = {"_id": Int64(USER_ID), "username": "benchuser", "username_key": "benchuser",
       "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
       "first_name": "Ada", "last_name": "Lovelace", "name": "Ada Lovelace",
       "birth_date": "1990-12-10", "version": 1,
       "created_at": Int64(1796066262925729), "updated_at": Int64(1796066262925729),
       "rid": "check-rid"}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def wait_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} not open after {timeout}s")


def descendants(pid):
    out = []
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids = [int(x) for x in f.read().split()]
        except FileNotFoundError:
            continue
        for k in kids:
            out.append(k)
            out.extend(descendants(k))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def check_peer(name, port, uri, db, log_path):
    errors = []
    proc = peers.start(name, port, uri, db, log_path)
    try:
        wait_port(port, proc)
        base = f"http://127.0.0.1:{port}/api/v1/users/"
        status, headers, body = get(base + str(USER_ID))
        doc = json.loads(body) if status == 200 else {}
        if status != 200:
            errors.append(f"stored id: HTTP {status} {body[:200]!r}")
        id_key = "_id" if name == "eve" else "id"
        if doc.get(id_key) != USER_ID:
            errors.append(f"stored id: {id_key}={doc.get(id_key)!r}")
        for f in FIELDS:
            want = DOC[f]
            if doc.get(f) != want:
                errors.append(f"stored id: field {f}={doc.get(f)!r}, want {want!r}")
        for secret in ("password_hash", "username_key", "rid"):
            if secret in doc or secret.encode() in body:
                errors.append(f"stored id: response exposes {secret}")
        etag = {k.lower(): v for k, v in headers.items()}.get("etag")
        if name != "eve" and etag != '"1"':
            errors.append(f"stored id: ETag {etag!r}, want '\"1\"'")
        if name == "eve" and not etag:
            errors.append("stored id: no ETag")
        status, _, body = get(base + str(USER_ID + 1))
        if status != 404:
            errors.append(f"missing id: HTTP {status}, want 404")
        elif name != "eve" and json.loads(body) != {"error": "not_found"}:
            errors.append(f"missing id: body {body!r}")
        # Eve routes /users/<int:_id>, so a non-integer id matches no route: 404.
        want_bad = 404 if name == "eve" else 400
        for bad in ("abc", "1.5", "99999999999999999999"):
            status, _, body = get(base + bad)
            if status != want_bad:
                errors.append(f"id {bad!r}: HTTP {status}, want {want_bad}")
            else:
                json.loads(body)  # JSON error body
        kids = descendants(proc.pid)
        summary = f"{len(kids)} child process(es)"
    finally:
        kids_before = descendants(proc.pid) if proc.poll() is None else []
        t0 = time.monotonic()
        rc = peers.stop(proc)
        stop_s = time.monotonic() - t0
    left = [k for k in kids_before if alive(k)]
    if left:
        errors.append(f"survived stop: {left}")
    return errors, f"{summary}, stop rc={rc} in {stop_s:.2f}s"


def main():
    names = sys.argv[1:] or peers.PEERS
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(["bash", os.path.join(here, "setup.sh"), peers.CACHE_DIR], check=True)
    tmp = tempfile.mkdtemp(prefix="roost-peers-check-")
    db_port = free_port()
    db_proc = subprocess.Popen(
        [DB_BIN, "-listen-addr", f"127.0.0.1:{db_port}", "-data-dir", os.path.join(tmp, "data")],
        stdout=open(os.path.join(tmp, "db.log"), "wb"), stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True)
    failed = 0
    try:
        wait_port(db_port, db_proc)
        uri = f"mongodb://127.0.0.1:{db_port}/"
        db = "peers_check_" + uuid.uuid4().hex[:12]
        with MongoClient(uri) as c:
            c[db]["users"].insert_one(DOC)
        for name in names:
            log_path = os.path.join(tmp, f"{name}.log")
            try:
                errors, info = check_peer(name, free_port(), uri, db, log_path)
            except Exception as e:  # noqa: BLE001
                errors, info = [f"{type(e).__name__}: {e}"], ""
            if errors:
                failed += 1
                print(f"FAIL {name}: {info}")
                for e in errors:
                    print(f"     {e}")
                with open(log_path, errors="replace") as f:
                    print("     log tail:", "".join(f.readlines()[-15:]))
            else:
                print(f"ok   {name}: {peers.LABELS[name]} ({info})")
    finally:
        db_proc.terminate()
        try:
            db_proc.wait(10)
        except subprocess.TimeoutExpired:
            db_proc.kill()
            db_proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(names) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
