"""The direct path (issue 22): the ingress sends HTTP requests to the workers
itself, speaking nng's SP protocol from its h2o loops (ingress/spine.c), and
each worker answers on a listener of its own (workers/runtime/direct.c),
with no broker between them. Real processes, real sockets, loopback only."""
import concurrent.futures
import os
import signal
import socket
import struct
import subprocess
import threading
import time
import uuid

import bson
import pynng
import pytest
import requests

from roost_stack import BUILD, Stack, free_port, free_ports, new_user, port_open, running, wait_until


def lone_ingress(env, workers_url, timeout_ms="3000"):
    """An ingress whose only pool is `workers_url`; returns (proc, base URL)."""
    port = free_port()
    e = dict(env)
    e.update({"ROOST_HTTP_PORT": str(port), "ROOST_WORKERS_URL": workers_url, "ROOST_REQUEST_TIMEOUT_MS": timeout_ms})
    for k in [k for k in e if k.startswith("ROOST_WORKERS_URL_")]:
        del e[k]
    proc = subprocess.Popen([os.path.join(BUILD, "ingress", "roost-ingress")], env=e, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    wait_until(lambda: port_open(port) or proc.poll() is not None, 10, "the ingress")
    return proc, f"http://127.0.0.1:{port}"


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=15)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=5)[1]


@pytest.fixture(scope="module")
def stack():
    with running(workers=2) as s:
        yield s


def test_the_ingress_sends_to_the_workers_directly(stack):
    log = stack.log("ingress")
    assert "(direct)" in log and "0 pool(s) reached through brokers" in log
    for i in range(6):
        assert requests.get(stack.url("/ping"), timeout=5).status_code == 200
    # both workers were used: fewest requests in flight first, ties to either
    served = {line.split("worker[")[1].split("]")[0] for line in stack.log("pool").splitlines()
              if "serving the ingress directly" in line}
    assert len(served) == 2


def test_a_worker_port_speaks_nng_rep_to_any_req_socket(stack):
    with pynng.Req0(dial=stack.workers_url().split(",")[0], recv_timeout=5000) as sock:
        for _ in range(3):
            sock.send(bson.encode({"v": 1, "op": "sys.ping"}))
            assert bson.decode(sock.recv())["status"] == 200
        sock.send(b"not bson")  # a malformed request gets a 400 envelope, not a dropped connection
        assert bson.decode(sock.recv())["status"] == 400


@pytest.mark.parametrize("opening", [
    b"GET / HTTP/1.1\r\n\r\n",                         # not SP at all
    b"\x00SP\x00\x00\x31\x00\x00",                      # a REP talking to a REP
    b"\x00SP\x00\x00\x30\x00\x00" + struct.pack(">Q", 1 << 40),  # a message past ROOST_MAX_MESSAGE_BYTES
])
def test_a_worker_drops_a_peer_that_breaks_the_protocol(stack, opening):
    host, port = stack.workers_url().split(",")[0][len("tcp://"):].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        assert raw.recv(8) == b"\x00SP\x00\x00\x31\x00\x00"  # its own handshake first
        raw.sendall(opening)
        raw.settimeout(5)
        assert raw.recv(100) == b"", "the connection should be closed"
    assert requests.get(stack.url("/ping"), timeout=5).status_code == 200


def test_no_worker_reachable_is_503_after_a_short_grace(stack):
    base = free_ports(2)
    proc, url = lone_ingress(stack.env(), f"tcp://127.0.0.1:{base},tcp://127.0.0.1:{base + 1}")
    try:
        assert requests.get(url + "/readyz", timeout=5).status_code == 503
        t0 = time.monotonic()
        r = requests.get(url + "/api/v1/users/1", timeout=10)
        took = time.monotonic() - t0
        assert r.status_code == 503 and r.json()["code"] == "pool_unavailable", r.text
        assert 0.8 <= took <= 3, took
    finally:
        err = stop(proc)
    assert "cannot connect" in err


def test_a_worker_that_starts_later_is_used_without_a_restart(stack):
    base = free_ports(1)
    proc, url = lone_ingress(stack.env(), f"tcp://127.0.0.1:{base}")
    late = None
    try:
        assert requests.get(url + "/ping", timeout=10).status_code == 503
        e = stack.env()
        e.update({"ROOST_SERVE_URL": f"tcp://127.0.0.1:{base}", "ROOST_WORKER_URL": f"tcp://127.0.0.1:{free_port()}",
                  "ROOST_METRICS_PORT": "0"})
        late = subprocess.Popen([os.path.join(BUILD, "workers", "roost-worker"), "all"], env=e,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        t0 = time.monotonic()
        wait_until(lambda: requests.get(url + "/ping", timeout=5).status_code == 200, 5, "the late worker to serve")
        assert time.monotonic() - t0 < 5
    finally:
        if late is not None:
            late.terminate()
            late.wait(15)
        stop(proc)


def test_workers_listed_by_name_are_resolved(stack):
    ports = [int(u.rsplit(":", 1)[1]) for u in stack.workers_url().split(",")]
    proc, url = lone_ingress(stack.env(), ",".join(f"tcp://localhost:{p}" for p in ports))
    try:
        wait_until(lambda: requests.get(url + "/readyz", timeout=5).status_code == 200, 10, "readiness by name")
        assert requests.get(url + "/ping", timeout=5).status_code == 200
    finally:
        stop(proc)


@pytest.mark.parametrize("bad", ["http://127.0.0.1:7300", "tcp://127.0.0.1", "tcp://*:7300", "ipc:///tmp/x"])
def test_a_bad_worker_list_stops_the_ingress_with_a_clear_error(stack, bad):
    proc, _ = lone_ingress(stack.env(), bad)
    try:
        assert proc.wait(10) != 0
    finally:
        err = stop(proc) if proc.poll() is None else proc.communicate(timeout=5)[1]
    assert "is not tcp://host:port" in err, err


def test_requests_wait_in_the_ingress_when_every_worker_is_busy():
    """Capacity 1 per worker and per loop: the rest queue under their deadline, and are all served."""
    with running(workers=1, env={"ROOST_WORKER_CAPACITY": "1", "ROOST_HTTP_THREADS": "1"}) as s:
        user = new_user(1)
        assert requests.post(s.url("/api/v1/users"), json=user, timeout=20).status_code == 201
        seen = []
        done = threading.Event()

        def watch():
            while not done.is_set():
                text = requests.get(s.url("/metrics"), timeout=5).text
                seen.extend(float(line.split()[-1]) for line in text.splitlines()
                            if line.startswith("roost_ingress_queued_requests{"))
                time.sleep(0.01)

        def login(i):
            return requests.post(s.url("/api/v1/auth/token"), timeout=30,
                                 json={"username": user["username"], "password": user["password"]}).status_code

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with concurrent.futures.ThreadPoolExecutor(6) as pool:
                codes = list(pool.map(login, range(12)))
        finally:
            done.set()
            watcher.join(10)
        assert set(codes) <= {200, 429}, codes
        assert codes.count(200) >= 1
        assert max(seen) >= 1, "nothing was ever seen waiting"
        after = [line for line in requests.get(s.url("/metrics"), timeout=5).text.splitlines()
                 if line.startswith("roost_ingress_queued_requests{")]
        assert len(after) == 6 and all(line.endswith(" 0") for line in after), after  # one per service


def load(stack, stop_event, results):
    """GET and POST in a loop; a dropped connection is retried with the same X-Request-Id, as the brief's client does."""
    session = requests.Session()
    i = 0
    while not stop_event.is_set():
        i += 1
        rid = uuid.uuid4().hex
        for attempt in range(5):
            try:
                if i % 3 == 0:
                    r = session.post(stack.url("/api/v1/users"), json=new_user(f"{rid[:10]}x"), timeout=15,
                                     headers={"X-Request-Id": rid})
                else:
                    r = session.get(stack.url("/ping"), timeout=15, headers={"X-Request-Id": rid})
                results.append(r.status_code)
                break
            except requests.ConnectionError:
                session = requests.Session()
        else:
            results.append("dropped")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_worker_stopped_under_load_loses_no_request(sig):
    with running(workers=2) as s:
        stop_event, results = threading.Event(), []
        threads = [threading.Thread(target=load, args=(s, stop_event, results)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            victim = s.worker_pids()[0]
            os.kill(victim, sig)
            time.sleep(2.5)  # the supervisor starts it again; the ingress reconnects
        finally:
            stop_event.set()
            for t in threads:
                t.join(30)
        bad = [r for r in results if r not in (200, 201)]
        assert len(results) > 50 and not bad, (len(results), bad[:10])
        assert requests.get(s.url("/readyz"), timeout=5).status_code == 200


def test_a_worker_behind_its_deadline_is_not_sent_more_and_more():
    """With the database slower than the deadline, clients get 504s, but the
    worker is never handed more than its capacity (a call answered 504 still
    counts until its reply), and what waited in it past its deadline is not
    run: it works through no backlog once the load is gone, so the next
    request, the database fast again, is answered at once."""
    from roost_stack import running_behind_proxy
    port = free_ports(2)  # the pool's broker's metrics, then its worker's
    env = {"ROOST_REQUEST_TIMEOUT_MS": "1000", "ROOST_WORKER_CAPACITY": "2", "ROOST_HTTP_THREADS": "1",
           "ROOST_WORKER_CONCURRENCY": "1", "ROOST_DB_PROBE_TIMEOUT_MS": "10000", "ROOST_METRICS_PORT": str(port)}
    with running_behind_proxy(workers=1, env=env) as (s, proxy):
        user = requests.post(s.url("/api/v1/users"), json=new_user(7), timeout=20).json()
        metrics = f"http://127.0.0.1:{port + 1}/metrics"

        def ran():
            return sum(float(line.split()[-1]) for line in requests.get(metrics, timeout=5).text.splitlines()
                       if line.startswith('roost_worker_ops_total{') and 'op="users.get"' in line)

        before = ran()
        proxy.delay = 0.7
        t0 = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            codes = list(pool.map(lambda i: requests.get(s.url(f"/api/v1/users/{user['id']}"), timeout=10).status_code,
                                  range(24)))
        busy = time.monotonic() - t0
        assert set(codes) <= {200, 504} and 504 in codes, codes
        proxy.delay = 0.0
        time.sleep(1.5)  # what the worker still held drains
        # Its one handler, 0.7 s per read, ran no more than fits in the
        # time the load lasted, plus what it held when the load ended.
        assert ran() - before <= busy / 0.7 + 2, (ran() - before, busy, codes)
        t0 = time.monotonic()
        assert requests.get(s.url(f"/api/v1/users/{user['id']}"), timeout=10).status_code == 200
        assert time.monotonic() - t0 < 0.5, "the worker was still working through requests nobody waited for"


def test_a_worker_out_of_descriptors_rests_its_listener_instead_of_spinning(stack):
    """Past its descriptor limit a worker cannot accept: the connection stays
    in the backlog and the listener stays readable. It must not wake again
    and again for it (a core burnt), and it accepts again once descriptors
    are free."""
    pid = stack.worker_pids()[0]
    host, port = stack.workers_url().split(",")[0][len("tcp://"):].rsplit(":", 1)
    used = len(os.listdir(f"/proc/{pid}/fd"))
    soft = subprocess.run(["prlimit", f"--pid={pid}", "--nofile", "--output=SOFT", "--noheadings"], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={used + 2}:"], check=True)  # the soft limit only
    held = []
    try:
        for _ in range(8):
            held.append(socket.create_connection((host, int(port)), timeout=5))
        time.sleep(0.5)

        def cpu():
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

        before = cpu()
        time.sleep(2)
        assert cpu() - before < 0.5, "the worker spins on a listener it cannot accept from"
        assert "cannot accept a connection" in stack.log("pool")
    finally:
        for s in held:
            s.close()
        subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={soft}:"], check=True)
    with pynng.Req0(dial=f"tcp://{host}:{port}", recv_timeout=5000) as sock:
        sock.send(bson.encode({"v": 1, "op": "sys.ping"}))
        assert bson.decode(sock.recv())["status"] == 200
    assert requests.get(stack.url("/ping"), timeout=5).status_code == 200
