"""No single point of failure, measured on `make run`'s own supervisor
(scripts/run.sh): two brokers per service and workers that dial both, the
ingress and the database, every one restarted when it dies.

Under 8 concurrent clients (classic creates, reads, lists), kill -9 one
users broker, then the other, then the ingress: no request fails and no
create runs twice. A client retries a refused or dropped connection for up
to 2 s, with the same X-Request-Id (the only allowance, and it matters only
for the ingress: a broker's death is absorbed by nng re-sending through the
service's other broker). Every killed process is back within 5 s. A second
test stops every process in turn with SIGTERM (a rolling restart): 0
failures as well."""
import concurrent.futures
import os
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid

import pymongo
import pytest
import requests

from roost_stack import BUILD, ROOT, SANITIZED, TOOLS, free_port, port_open, wait_until

CLIENTS = 8
RETRY_SECONDS = 2.0


class Supervised:
    """scripts/run.sh on free ports in a temporary directory, stopped by its pid."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="roost-run-")
        self.http_port, self.db_port, self.pool_base = free_port(), free_port(), self.free_base()
        self.metrics_base = self.free_base()
        while abs(self.metrics_base - self.pool_base) < 20:
            self.metrics_base = self.free_base()
        self.base = f"http://127.0.0.1:{self.http_port}"
        env = dict(os.environ, ROOST_DATA_DIR=self.dir, ROOST_HTTP_PORT=str(self.http_port),
                   ROOST_DB_PORT=str(self.db_port), ROOST_POOL_BASE_PORT=str(self.pool_base), ROOST_SEED="0",
                   ROOST_TOOLS_DIR=TOOLS, ROOST_WORKERS="2", ROOST_METRICS_BASE_PORT=str(self.metrics_base))
        for k in [k for k in env if k.startswith("ROOST_POOL_URL") or k in ("ROOST_MONGODB_URI", "ROOST_WORKER_URL")]:
            del env[k]
        if SANITIZED:
            env["ASAN_OPTIONS"] = f"detect_leaks=0:log_path={self.dir}/asan"
            env["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={self.dir}/ubsan"
        self.log = open(os.path.join(self.dir, "run.log"), "ab")
        self.proc = subprocess.Popen([os.path.join(ROOT, "scripts", "run.sh"), BUILD], stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        wait_until(lambda: requests.get(self.base + "/readyz", timeout=1).status_code == 200, 60, "/readyz")

    @staticmethod
    def free_base():
        """20 consecutive free ports (five services, two brokers, two ports
        each) below the kernel's ephemeral range, so that no outgoing
        connection takes a killed broker's port before it is back."""
        low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
        rng = random.Random()
        while True:
            base = rng.randrange(20000, low - 40, 2)
            if not any(port_open(base + p) for p in range(20)):
                return base

    def children(self):
        """{pid: command line} of the processes run.sh started."""
        r = subprocess.run(["ps", "--ppid", str(self.proc.pid), "-o", "pid=,args="], capture_output=True, text=True)
        return {int(line.split(None, 1)[0]): line.split(None, 1)[1] for line in r.stdout.strip().splitlines()}

    def pids_of(self, args_end):
        return sorted(pid for pid, args in self.children().items() if args.endswith(args_end))

    def stop(self):
        children = self.children()
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()
        left = [pid for pid in children if os.path.exists(f"/proc/{pid}")]
        assert not left, f"run.sh left {left} running"
        if SANITIZED:
            reports = [f for f in os.listdir(self.dir) if f.startswith(("asan.", "ubsan."))]
            assert not reports, [open(os.path.join(self.dir, f)).read()[:2000] for f in reports]
        if os.environ.get("ROOST_KEEP_TEST_DIRS") != "1":  # as Stack.stop
            shutil.rmtree(self.dir, ignore_errors=True)

    def mongo(self):
        return pymongo.MongoClient(f"mongodb://127.0.0.1:{self.db_port}", serverSelectionTimeoutMS=5000)


class Load:
    """CLIENTS threads of classic creates, reads and lists until stopped."""

    def __init__(self, base):
        self.base, self.stop_flag = base, threading.Event()
        self.failures, self.created, self.requests, self.lock = [], [], 0, threading.Lock()

    def send(self, method, path, **kw):
        """One request, retried on a refused or dropped connection for up to
        RETRY_SECONDS with the same X-Request-Id, so that a retried create
        is answered by the first one's result instead of running twice."""
        headers = {"X-Request-Id": uuid.uuid4().hex}
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                return requests.request(method, self.base + path, headers=headers, timeout=15, **kw)
            except requests.ConnectionError as e:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def client(self, n):
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            name = f"spof {n}-{i}-{uuid.uuid4().hex[:6]}"
            try:
                r = self.send("POST", "/users", data={"name": name})
                if r.status_code != 200:
                    raise AssertionError(f"POST /users {r.status_code} {r.text[:200]}")
                uid = r.json()["user"]["id"]
                with self.lock:
                    self.created.append((name, uid))
                for path in (f"/users/{uid}", "/api/v1/properties?per_page=5", "/api/v1/users?per_page=5"):
                    r = self.send("GET", path)
                    if r.status_code != 200:
                        raise AssertionError(f"GET {path} {r.status_code} {r.text[:200]}")
                with self.lock:
                    self.requests += 4
            except Exception as e:  # every failure is recorded, none stops the load
                with self.lock:
                    self.failures.append(f"{time.strftime('%X')} {e!r}"[:300])

    def __enter__(self):
        self.pool = concurrent.futures.ThreadPoolExecutor(CLIENTS)
        self.futures = [self.pool.submit(self.client, n) for n in range(CLIENTS)]
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for f in self.futures:
            f.result(60)
        self.pool.shutdown()


def serving(run):
    """Every broker's client port listens and /readyz is 200; then a second
    for the clients' redial (reconnects back off to 1 s)."""
    wait_until(lambda: all(port_open(run.pool_base + p) for p in range(0, 20, 2)), 10, "every broker to listen")
    wait_until(lambda: requests.get(run.base + "/readyz", timeout=1).status_code == 200, 10, "/readyz")
    time.sleep(1.2)


def back_within(run, args_end, before, seconds=5.0):
    """The pid that replaced `before` (a process with the same command line)."""
    wait_until(lambda: len(set(run.pids_of(args_end)) - set(before)) > 0 and
               len(run.pids_of(args_end)) == len(before), seconds, f"'{args_end}' to be back")


def assert_created_once(run, created):
    names = [n for n, _ in created]
    with run.mongo() as m:
        db = next(d for d in m.list_database_names() if d.endswith("users"))
        counts = {}
        for doc in m[db]["users"].find({"name": {"$in": names}}, {"name": 1}):
            counts[doc["name"]] = counts.get(doc["name"], 0) + 1
    assert sorted(counts) == sorted(names) and set(counts.values()) == {1}, \
        [n for n in names if counts.get(n) != 1][:10]


def cpus_allowed(pid):
    """The set of CPUs a process may run on (its Cpus_allowed_list)."""
    with open(f"/proc/{pid}/status") as f:
        text = next(line.split()[1] for line in f if line.startswith("Cpus_allowed_list:"))
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(cpus)


def assert_placed(run):
    """make run's CPU placement (ROOST_PIN_CPUS, on by default with 2 or more
    CPUs), also of processes it restarted: the ingress alone on the first
    quarter of the CPUs it may use (at least one), each service's brokers
    and workers together on CPUs of the rest."""
    mine = sorted(os.sched_getaffinity(0))
    if len(mine) < 2:
        return
    ingress_cpus = frozenset(mine[:max(1, len(mine) // 4)])
    by_service = {}
    for pid, args in run.children().items():
        if args.endswith("roost-ingress"):
            assert cpus_allowed(pid) == ingress_cpus, (pid, args, cpus_allowed(pid))
        elif "roost-worker" in args:
            by_service.setdefault(args.split()[-1], set()).add(cpus_allowed(pid))
    assert len(by_service) == 5, run.children()
    for service, sets in by_service.items():
        assert len(sets) == 1, (service, sets)
        cpus = next(iter(sets))
        assert cpus and not cpus & ingress_cpus and cpus <= set(mine), (service, cpus)


@pytest.fixture
def run():
    r = Supervised()
    yield r
    r.stop()


def test_kill_9_a_broker_then_the_other_then_the_ingress_loses_nothing(run):
    with Load(run.base) as load:
        time.sleep(3)
        for args_end, pause in (("--broker users", 5), ("--broker users", 5), ("roost-ingress", 5)):
            before = run.pids_of(args_end)
            os.kill(before[0], signal.SIGKILL)  # the oldest: the second time, the broker not killed yet
            back_within(run, args_end, before)
            time.sleep(pause)
    assert load.requests > 200, load.requests
    assert not load.failures, load.failures[:10]
    assert_created_once(run, load.created)
    assert requests.get(run.base + "/readyz", timeout=5).status_code == 200
    assert_placed(run)
    # make run migrated every service's database before its workers started.
    with open(os.path.join(run.dir, "run.log"), errors="replace") as f:
        log = f.read()
    assert log.index("[run] migrating the databases") < log.index("[run] starting the users pool"), log[:2000]
    client = run.mongo()
    try:
        for service in ("users", "properties", "places", "listings", "bookings"):
            assert client[os.environ.get("ROOST_DB_PREFIX", "roost_") + service]["migrations"].count_documents({"state": "applied"}) >= 1, service
    finally:
        client.close()
    # Every process's metrics answer where make run says, the restarted ones too.
    with open(os.path.join(run.dir, "metrics.txt")) as f:
        endpoints = dict(line.split() for line in f if line.strip())
    assert len(endpoints) == 1 + 5 * 4, endpoints
    for name, url in endpoints.items():
        r = requests.get(url, timeout=5)
        assert r.status_code == 200 and "process_start_time_seconds" in r.text, (name, url, r.status_code)


def test_a_rolling_restart_under_load_loses_nothing(run):
    with Load(run.base) as load:
        time.sleep(2)
        for args_end in ("--broker users", "--broker users", "roost-worker users", "roost-ingress",
                         "--broker properties", "roost-worker properties"):
            before = run.pids_of(args_end)
            if not before:
                continue
            os.kill(before[0], signal.SIGTERM)
            back_within(run, args_end, before, seconds=15)
            serving(run)  # a rolling restart waits for each replacement to serve
    assert load.requests > 100, load.requests
    assert not load.failures, load.failures[:10]
    assert_created_once(run, load.created)


def running(pid):
    """Whether `pid` is a live process (not gone, and not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_second_signal_hurries_a_stop_and_leaves_nothing_behind():
    """Ctrl-C twice (or SIGTERM twice) while run.sh is stopping: the second
    hurries the stop and never abandons it; every process it started is
    gone when it exits, none reparented to pid 1 holding its ports."""
    s = Supervised()
    children = s.children()
    assert children
    s.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    s.proc.send_signal(signal.SIGTERM)
    s.proc.send_signal(signal.SIGINT)
    s.proc.wait(60)
    s.log.close()
    left = {pid: children[pid] for pid in children if running(pid)}
    log = [line for line in open(os.path.join(s.dir, "run.log")).read().splitlines() if "info" not in line]
    assert not left, f"run.sh left {left} running: " + "\n".join(log[-40:])
    shutil.rmtree(s.dir, ignore_errors=True)
