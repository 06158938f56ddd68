"""Starts and stops the benchmark's conventional-stack peer services.

Each peer serves GET /api/v1/users/{id} from db[PEER_DB]["users"] on
127.0.0.1:PEER_PORT; install them first with setup.sh (same CACHE_DIR).
The harness finds worker processes as descendants of the returned Popen.
"""
import os
import signal
import subprocess
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE_DIR = os.environ.get("PEERS_CACHE_DIR", os.path.join(HERE, ".cache"))

PEERS = ["fastapi", "express", "eve", "go"]

LABELS = {
    "fastapi": "FastAPI 0.165.0 + uvicorn 0.54.0 (--workers 2) + pymongo 4.20.1 AsyncMongoClient",
    "express": "Express 5.3.0 + mongodb 7.9.0 driver, node:cluster with 2 workers",
    "eve": "Eve 2.3.1 (Flask 3.1.3, pymongo 4.20.1) on gunicorn 27.0.1, 2 sync workers",
    "go": "Go net/http + mongo-driver 1.17.10, one process",
}


def command(name, port, cache_dir=None):
    """argv and working directory for one peer."""
    cache = cache_dir or CACHE_DIR
    if name == "fastapi":
        return [os.path.join(cache, "venv-fastapi", "bin", "uvicorn"), "app:app",
                "--host", "127.0.0.1", "--port", str(port), "--workers", "2",
                "--no-access-log"], os.path.join(HERE, "fastapi")
    if name == "express":
        return ["node", "server.js"], os.path.join(HERE, "express")
    if name == "eve":
        return [os.path.join(cache, "venv-eve", "bin", "gunicorn"), "--workers", "2",
                "--bind", f"127.0.0.1:{port}", "--no-control-socket", "app:app"], \
            os.path.join(HERE, "eve")
    if name == "go":
        return [os.path.join(cache, "bin", "roost-peer-go")], os.path.join(HERE, "go")
    raise ValueError(f"unknown peer {name!r}")


def start(name, port, mongodb_uri, db, log_path, cache_dir=None):
    """Start peer `name`; returns its parent process (leader of a new session)."""
    argv, cwd = command(name, port, cache_dir)
    env = dict(os.environ, PEER_PORT=str(port), MONGODB_URI=mongodb_uri, PEER_DB=db)
    with open(log_path, "ab") as log:
        return subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _group_alive(pgid):
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def stop(proc, timeout=10.0):
    """SIGTERM the peer's process group, wait, SIGKILL whatever is left after `timeout`."""
    pgid = proc.pid  # start_new_session=True: the parent leads its own group
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.poll()
        if proc.returncode is not None and not _group_alive(pgid):
            return proc.returncode
        time.sleep(0.05)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    while _group_alive(pgid) and time.monotonic() < deadline + 5:
        time.sleep(0.05)
    return proc.returncode
