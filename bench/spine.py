#!/usr/bin/env python3
"""The spine's cost (`make bench`, first table; issue "The spine's cost").

Starts one embedded database and, on it, a Roost stack like the bench's
(ingress, 2 workers it reaches directly, and the pool's broker, idle: HTTP
does not pass it), then measures with wrk, one row after another, each
after a warm-up at the same load:

  static       GET /healthz                 h2o answers from the ingress itself
  nng ping     GET /ping                    ingress -> worker -> back (SP over TCP), no database
  ping half    GET /ping                    paced to half of the ping row's req/s: its p99
  user by id   GET /api/v1/users/{id}       the whole path, one find by _id
  not pinned   the same, no process pinned to a CPU (ROOST_PIN_CPUS=0)
  16 CPUs      the same on a second stack whose processes are told the machine
               has BENCH_FAKE_CPUS (16) CPUs (bench/ncpus.c, LD_PRELOAD), as on a
               big Kubernetes node: nng sizes its thread pool from that
  direct C     bench/direct_read            the same find from C threads, no HTTP, no nng
  list         GET /api/v1/properties?city=...&per_page=20
  create       POST /api/v1/listings        with a bearer token, at BENCH_CREATE_CONNECTIONS (8; write limits off)
  login        POST /api/v1/auth/token      at BENCH_LOGIN_CONNECTIONS (2): Argon2id bounds it
  half peak    GET /api/v1/users/{id}       paced to half of the user row's req/s (wrk delay())

then the same GET user by id on each conventional peer of bench/peers/
(BENCH_PEERS, default all; `none` skips them), each reading the same stored
document from the same database process.

For every row it reads, before and after, /proc/PID/stat (utime + stime) and
/proc/PID/task/*/status (voluntary + involuntary context switches) of every
process of the stack under test and of the database, and prints CPU µs and
context switches per request, per process and in total, and the stack's
resident memory (VmRSS summed at the end of the row). The load generator's
own CPU is in no column.

    bench/spine.py [BUILD_DIR]          Markdown on stdout, progress on stderr
    bench/spine.py --serve FILE         the same stack, set up, until SIGTERM (bench/profile.sh)
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith("-") else os.environ.get("ROOST_BUILD_DIR",
                                                                             os.path.join(ROOT, "build")))
os.environ["ROOST_BUILD_DIR"] = BUILD
# This stack is the bench's own: a caller's pool URLs or database (e.g. from
# `. var/pools.env` while make run is up) must not leak into it.
for _name in [k for k in os.environ if k.startswith("ROOST_POOL_URL") or k in ("ROOST_MONGODB_URI", "ROOST_WORKER_URL")]:
    del os.environ[_name]
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "bench", "peers"))
from roost_stack import Stack, free_port, wait_until, port_open  # noqa: E402
import peers as peerlib  # noqa: E402  (bench/peers/peers.py)

SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "32"))
WARMUP = int(os.environ.get("BENCH_WARMUP_SECONDS", "2"))
LOGIN_CONNECTIONS = int(os.environ.get("BENCH_LOGIN_CONNECTIONS", "2"))
# A create holds a worker context while it asks properties.get of the pool;
# with one pool for every service (this stack) and as many creates in flight
# as the pool has contexts (2 workers x 16), the asks starve and time out.
# make run gives each service its own pool. Hence fewer connections here.
CREATE_CONNECTIONS = int(os.environ.get("BENCH_CREATE_CONNECTIONS", "8"))
PEERS = os.environ.get("BENCH_PEERS", "all")
# A comma list of the Roost rows to run (ALL_ROWS); default all.
ALL_ROWS = ["static", "ping", "pinghalf", "user", "unpinned", "cpus16", "direct", "list", "create", "login", "half"]
ROWS = os.environ.get("BENCH_ROWS", ",".join(ALL_ROWS)).split(",")
# Roost's processes placed as `make run` places them (scripts/run.sh, ROOST_PIN_CPUS); 0: not pinned.
PIN = os.environ.get("BENCH_PIN", os.environ.get("ROOST_PIN_CPUS", "1" if len(os.sched_getaffinity(0)) >= 2 else "0")) == "1"
WRK_THREADS = 2
HZ = os.sysconf("SC_CLK_TCK")
REPORT_LUA = os.path.join(ROOT, "bench", "report.lua")
DIRECT = os.path.join(BUILD, "bench", "direct_read")
# The LD_PRELOAD shim of the row "as on a 16-CPU node" (bench/ncpus.c).
NCPUS_SHIM = os.path.join(BUILD, "bench", "ncpus.so")
FAKE_CPUS = int(os.environ.get("BENCH_FAKE_CPUS", "16"))
PASSWORD = "correct horse"


def say(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


# --- /proc ----------------------------------------------------------------------
def descendants(pid):
    """pid and every process under it, from /proc/PID/task/TID/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    todo += [int(c) for c in f.read().split()]
        except OSError:
            pass
    return out


def proc_sample(pid):
    """(cpu ticks, context switches, rss KiB) of one process, all its threads."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        switches = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                            switches += int(line.split()[1])
            except OSError:
                pass
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        return ticks, switches, rss
    except OSError:
        return 0, 0, 0


class Meter:
    """CPU, switches and RSS of named groups of processes across one row.
    `groups`: name -> callable returning that group's pids now."""

    def __init__(self, groups):
        self.groups = groups

    def snap(self):
        return {name: {pid: proc_sample(pid) for pid in f()} for name, f in self.groups.items()}

    @staticmethod
    def delta(before, after, requests_done):
        """name -> (cpu µs/req, switches/req, rss MiB) over the row."""
        n = max(1, requests_done)
        out = {}
        for name, pids in after.items():
            ticks = sw = rss = 0
            for pid, (t, s, r) in pids.items():
                t0, s0, _ = before.get(name, {}).get(pid, (0, 0, 0))
                ticks += t - t0
                sw += s - s0
                rss += r
            out[name] = (ticks / HZ * 1e6 / n, sw / n, rss / 1024)
        return out


def set_cpus(pids, cpus):
    """Every thread of every process in `pids` may run only on `cpus`
    (children forked later inherit it), as taskset -a -p does."""
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone: check_alive says so
        for tid in tids:
            try:
                os.sched_setaffinity(int(tid), cpus)
            except ProcessLookupError:
                pass  # a thread that just ended


def pin_like_make_run(stack, on):
    """scripts/run.sh's layout (ROOST_PIN_CPUS) on 2 CPUs: the ingress on the
    first CPU this bench may use, the pool (broker and workers) on the
    second; `on` False: every CPU it may use, for all."""
    mine = sorted(os.sched_getaffinity(0))
    pool = descendants(stack.procs["pool"].pid)
    if on and len(mine) >= 2:
        set_cpus([stack.procs["ingress"].pid], {mine[0]})
        set_cpus(pool, {mine[1]})
    else:
        set_cpus([stack.procs["ingress"].pid] + pool, set(mine))


# --- load -------------------------------------------------------------------------
def lua_script(path, method="GET", body=None, headers=None, delay_ms=None):
    """A wrk script: the request, an optional fixed delay before each request,
    and report.lua's `done` hook."""
    lines = [f'wrk.method = "{method}"']
    if body is not None:
        lines.append(f"wrk.body = [==[{body}]==]")
    for k, v in (headers or {}).items():
        lines.append(f'wrk.headers["{k}"] = "{v}"')
    if delay_ms is not None:
        lines.append(f"function delay() return {delay_ms:.3f} end")
    with open(REPORT_LUA) as f:
        lines.append(f.read())
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def parse_wrk(out):
    m = re.search(r"^WRK_RESULT (.*)$", out, re.M)
    if not m:
        raise RuntimeError("no WRK_RESULT line from wrk:\n" + out)
    r = {k: float(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    sock = r["connect"] + r["read"] + r["write"] + r["timeout"]
    return {"requests": int(r["requests"]), "rps": r["rps"], "p50": r["p50_us"] / 1000, "p99": r["p99_us"] / 1000,
            "errors": int(sock + r["status"])}


def wrk(url, script, connections, seconds):
    argv = ["wrk", f"-t{min(WRK_THREADS, connections)}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
            "--latency", "-s", script, url]
    p = subprocess.run(["timeout", "-k", "5", str(seconds + 30), *argv], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout}{p.stderr}")
    return parse_wrk(p.stdout)


def direct(uri, db, uid, connections, seconds):
    p = subprocess.run(["timeout", "-k", "5", str(seconds + 30), DIRECT, uri, db, str(uid), str(connections),
                        str(seconds)], capture_output=True, text=True)
    m = re.search(r"^direct_read (.*)$", p.stdout, re.M)
    if not m:
        raise RuntimeError(f"direct_read failed: {p.stdout}{p.stderr}")
    r = dict(kv.split("=") for kv in m.group(1).split())
    return {"requests": int(r["count"]), "rps": float(r["rps"]), "p50": float(r["p50_ms"]),
            "p99": float(r["p99_ms"]), "errors": int(r["errors"])}


class Bench:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="roost-bench-spine-")
        self.rows = []  # (label, result, meter delta, stack group names)
        self.alive = []  # (name, proc) that must not die
        self.workers = None  # (read the pool's worker pids now, the pids at start)

    def check_alive(self, row):
        for name, proc in self.alive:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} (pid {proc.pid}) died during '{row}' (status {proc.returncode})")
        if self.workers is not None:
            now = sorted(self.workers[0]())
            if now != self.workers[1]:
                raise RuntimeError(f"the pool's workers changed during '{row}' ({self.workers[1]} -> {now}): "
                                   "a worker died and its CPU is lost from the row")

    def measure(self, label, meter, run, warmup=None, key=None):
        if key is not None and key not in ROWS:
            return None, None
        if WARMUP > 0:
            (warmup or run)(WARMUP)
            self.check_alive(label + " (warm-up)")
        say(f"{label}: {SECONDS} s")
        before = meter.snap()
        result = run(SECONDS)
        after = meter.snap()
        self.check_alive(label)
        d = Meter.delta(before, after, result["requests"])
        self.rows.append((label, result, d))
        return result, d


def paced(b, url, meter, target, label, key=None):
    """GET url paced to `target` req/s: each connection waits before each
    request (wrk's delay()); the wait is calibrated in 2 s runs until the
    rate is within 10 % of the target, then the row is measured."""
    wait = CONNECTIONS / max(target, 1.0) * 1000
    for _ in range(6):
        r = wrk(url, lua_script(os.path.join(b.tmp, "paced.lua"), delay_ms=wait), CONNECTIONS, 2)
        if abs(r["rps"] - target) <= 0.1 * target:
            break
        wait = max(0.0, wait * r["rps"] / max(target, 1.0))
    script = lua_script(os.path.join(b.tmp, "paced.lua"), delay_ms=wait)
    return b.measure(label, meter, lambda s: wrk(url, script, CONNECTIONS, s), key=key)


# --- Roost --------------------------------------------------------------------------
def roost_setup(stack):
    s = requests.Session()
    r = s.post(stack.url("/api/v1/users"), json={"username": "benchuser", "password": PASSWORD, "first_name": "Ada",
                                                 "last_name": "Lovelace", "birth_date": "1990-12-10"}, timeout=10)
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = s.post(stack.url("/api/v1/auth/token"), json={"username": "benchuser", "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    for i in range(40):
        r = s.post(stack.url("/api/v1/properties"), headers=auth, timeout=10, json={
            "name": f"Bench flat {i}", "type": "apartment", "city": "Benchville", "address": f"{i} Long Street",
            "rooms": [{"name": "Living", "kind": "living", "area_m2": 21.5},
                      {"name": "Bedroom", "kind": "bedroom", "area_m2": 12.25}]})
        assert r.status_code == 201, r.text
    prop = r.json()["id"]
    assert s.get(stack.url(f"/api/v1/users/{uid}"), timeout=10).status_code == 200
    return uid, token, prop


def roost_stack(extra_env=None, db_uri=None):
    """The bench's Roost stack: write limits off (the create row would meet
    them), nng over BENCH_NNG_TRANSPORT (tcp, default, or ipc)."""
    # The peers write no access log (uvicorn --no-access-log, the others by
    # default): neither does Roost here, unless BENCH_ACCESS_LOG=1.
    env = {"ROOST_WRITE_LIMIT_PER_USER": "0", "ROOST_WRITE_LIMIT_PER_ADDRESS": "0",
           "ROOST_ACCESS_LOG": os.environ.get("BENCH_ACCESS_LOG", "0")}
    env.update(extra_env or {})
    stack = Stack(workers=2, env=env, db_uri=db_uri)
    if os.environ.get("BENCH_NNG_TRANSPORT", "tcp") == "ipc":
        env["ROOST_POOL_URL"] = f"ipc://{stack.dir}/pool.ipc"
        env["ROOST_WORKER_URL"] = f"ipc://{stack.dir}/worker.ipc"
    return stack


def threads_of(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def sixteen_cpu_row(b, db_uri, get):
    """The user-by-id row again, on a second stack on the same database whose
    processes are told the machine has FAKE_CPUS CPUs (bench/ncpus.c), as
    on a big Kubernetes node: nng then starts its threads as for that many.
    The ingress keeps as many loops as the 2-CPU row's (ROOST_HTTP_THREADS,
    as the manifests set it from the CPU limit)."""
    if not os.path.exists(NCPUS_SHIM) or os.path.getmtime(NCPUS_SHIM) < os.path.getmtime(
            os.path.join(ROOT, "bench", "ncpus.c")):
        os.makedirs(os.path.dirname(NCPUS_SHIM), exist_ok=True)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", NCPUS_SHIM, os.path.join(ROOT, "bench", "ncpus.c"),
                        "-ldl"], check=True)
    stack = roost_stack({"LD_PRELOAD": NCPUS_SHIM, "BENCH_FAKE_NPROCS": str(FAKE_CPUS),
                         "ROOST_HTTP_THREADS": str(len(os.sched_getaffinity(0)))}, db_uri=db_uri)
    try:
        stack.start()
        uid, _, _ = roost_setup(stack)
        pin_like_make_run(stack, PIN)
        ingress_pid, pool_pid = stack.procs["ingress"].pid, stack.procs["pool"].pid
        workers = sorted(stack.worker_pids())
        groups = {"ingress": lambda: [ingress_pid], "broker": lambda: [pool_pid]}
        for i, w in enumerate(workers):
            groups[f"worker {i + 1}"] = (lambda w=w: [w])
        groups["database"] = lambda: [b.db_pid]
        threads = f"threads: ingress {threads_of(ingress_pid)}, worker {threads_of(workers[0])}"
        saved, b.workers, b.alive = (b.workers, b.alive), (stack.worker_pids, workers), \
            [("the 16-CPU stack's pool", stack.procs["pool"]), ("the 16-CPU stack's ingress", stack.procs["ingress"])]
        try:
            return b.measure(f"user by id, as on a {FAKE_CPUS}-CPU node ({threads}; GET /api/v1/users/{uid})",
                             Meter(groups), lambda s: wrk(stack.url(f"/api/v1/users/{uid}"), get, CONNECTIONS, s),
                             key="cpus16")
        finally:
            b.workers, b.alive = saved
    finally:
        stack.stop()
        shutil.rmtree(stack.dir, ignore_errors=True)


def serve(path):
    """`--serve FILE`: start the stack, set it up as main() does, write its
    pids and the user id to FILE as shell assignments, then wait for SIGTERM
    (bench/profile.sh)."""
    stack = roost_stack()
    try:
        stack.start()
        uid, token, prop = roost_setup(stack)
        pin_like_make_run(stack, PIN)
        workers = " ".join(str(w) for w in sorted(stack.worker_pids()))
        with open(path + ".tmp", "w") as f:
            f.write(f"BASE={stack.base}\nUSER_ID={uid}\nTOKEN={token}\nPROPERTY_ID={prop}\n"
                    f"INGRESS_PID={stack.procs['ingress'].pid}\nBROKER_PID={stack.procs['pool'].pid}\n"
                    f"WORKER_PIDS='{workers}'\nDB_PID={stack.procs['db'].pid}\n")
        os.rename(path + ".tmp", path)
        signal.sigwait({signal.SIGTERM, signal.SIGINT})
    finally:
        stack.stop()
        shutil.rmtree(stack.dir, ignore_errors=True)
    return 0


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        return serve(sys.argv[2])
    b = Bench()
    db_stack = roost_stack()
    peer_procs = []
    try:
        say(f"database, Roost stack (2 workers) in {db_stack.dir}")
        db_stack.start()
        stack = db_stack
        db_pid = stack.procs["db"].pid
        b.alive = [("the database", stack.procs["db"]), ("the pool", stack.procs["pool"]),
                   ("the ingress", stack.procs["ingress"])]
        uid, token, prop = roost_setup(stack)
        pin_like_make_run(stack, PIN)
        db_name = stack.prefix + "users"
        pool_pid, ingress_pid = stack.procs["pool"].pid, stack.procs["ingress"].pid
        workers = sorted(stack.worker_pids())
        b.workers = (stack.worker_pids, workers)
        groups = {"ingress": lambda: [ingress_pid], "broker": lambda: [pool_pid]}
        for i, w in enumerate(workers):
            groups[f"worker {i + 1}"] = (lambda w=w: [w])
        groups["database"] = lambda: [db_pid]
        meter = Meter(groups)
        roost_parts = [g for g in groups if g != "database"]
        get = lua_script(os.path.join(b.tmp, "get.lua"))

        def wrk_row(key, label, path, script=get, connections=CONNECTIONS):
            url = stack.url(path)
            return b.measure(label, meter, lambda s: wrk(url, script, connections, s), key=key)

        wrk_row("static", "static (GET /healthz)", "/healthz")
        ping, _ = wrk_row("ping", "nng ping (GET /ping)", "/ping")
        if ping is not None and "pinghalf" in ROWS:
            paced(b, stack.url("/ping"), meter, ping["rps"] / 2,
                  f"nng ping at half of its peak ({ping['rps'] / 2:.0f} req/s asked)", key="pinghalf")
        user, _ = wrk_row("user", f"user by id (GET /api/v1/users/{uid})", f"/api/v1/users/{uid}")
        if PIN:
            pin_like_make_run(stack, False)
            wrk_row("unpinned", f"user by id, processes not pinned (GET /api/v1/users/{uid})", f"/api/v1/users/{uid}")
            pin_like_make_run(stack, True)
        if "cpus16" in ROWS:
            b.db_pid = db_pid
            sixteen_cpu_row(b, stack.db_uri, get)
        b.measure("direct C (find by _id, no HTTP/nng)", meter,
                  lambda s: direct(stack.db_uri, db_name, uid, CONNECTIONS, s), key="direct")
        wrk_row("list", "list (GET /api/v1/properties?city=Benchville&per_page=20)",
                "/api/v1/properties?city=Benchville&per_page=20")
        create = lua_script(os.path.join(b.tmp, "create.lua"), "POST",
                            f'{{"listing_type":"rent","price":1200,"property_id":{prop}}}',
                            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        wrk_row("create", f"create (POST /api/v1/listings, {CREATE_CONNECTIONS} connections)", "/api/v1/listings",
                create, CREATE_CONNECTIONS)
        login = lua_script(os.path.join(b.tmp, "login.lua"), "POST",
                           f'{{"username":"benchuser","password":"{PASSWORD}"}}', {"Content-Type": "application/json"})
        wrk_row("login", f"login (POST /api/v1/auth/token, {LOGIN_CONNECTIONS} connections)", "/api/v1/auth/token",
                login, LOGIN_CONNECTIONS)
        half = half_d = None
        if user is not None and "half" in ROWS:
            half, half_d = paced(b, stack.url(f"/api/v1/users/{uid}"), meter, user["rps"] / 2,
                                 f"user by id at half of its peak ({user['rps'] / 2:.0f} req/s asked)", key="half")

        peer_rows = []
        same_rate = None
        names = [] if PEERS == "none" else peerlib.PEERS if PEERS == "all" else PEERS.split(",")
        unknown = [n for n in names if n not in peerlib.PEERS]
        if unknown:
            raise SystemExit(f"BENCH_PEERS: unknown peer(s) {unknown}; known: {', '.join(peerlib.PEERS)}, all, none")
        unknown = [r for r in ROWS if r not in ALL_ROWS]
        if unknown:
            raise SystemExit(f"BENCH_ROWS: unknown row(s) {unknown}; known: {', '.join(ALL_ROWS)}")
        if names:
            say("setting up the peers (bench/peers/setup.sh)")
            subprocess.run([os.path.join(ROOT, "bench", "peers", "setup.sh"), peerlib.CACHE_DIR], check=True,
                           stdout=sys.stderr)
            for name in names:
                port = free_port()
                log_path = os.path.join(b.tmp, f"peer-{name}.log")
                proc = peerlib.start(name, port, stack.db_uri, db_name, log_path)
                peer_procs.append(proc)
                try:
                    wait_until(lambda: port_open(port), 30, f"the {name} peer")
                    url = f"http://127.0.0.1:{port}/api/v1/users/{uid}"
                    wait_until(lambda: requests.get(url, timeout=2).status_code == 200, 30, f"the {name} peer to read")
                    pm = Meter({"stack": lambda: descendants(proc.pid), "database": lambda: [db_pid]})
                    b.alive.append((f"the {name} peer", proc))
                    res, d = b.measure(f"{name}: {peerlib.LABELS[name]}", pm, lambda s: wrk(url, get, CONNECTIONS, s))
                    peer_rows.append((name, res, d))
                    if name == "go" and half is not None:
                        # The database's CPU per read falls as the rate rises:
                        # compare the leanest peer paced to the same target.
                        same, same_d = paced(b, url, pm, user["rps"] / 2, f"go at {user['rps'] / 2:.0f} req/s")
                        same_rate = (same, same_d)
                except Exception:
                    with open(log_path, errors="replace") as f:
                        say(f"the {name} peer's log (last lines):\n" + "".join(f.readlines()[-20:]))
                    raise
                finally:
                    b.alive = b.alive[:3]
                    peerlib.stop(proc)
                    peer_procs.remove(proc)
        report(b, roost_parts, user, half, peer_rows, (half, half_d) if half is not None else None, same_rate)
        return 0
    finally:
        for proc in peer_procs:
            peerlib.stop(proc)
        db_stack.stop()
        shutil.rmtree(db_stack.dir, ignore_errors=True)
        shutil.rmtree(b.tmp, ignore_errors=True)


def ratio(a, b):
    return f"{a / b:.2f}" if b > 0 else "n/a"


def fmt_parts(d, parts):
    total = sum(d[p][0] for p in parts)
    sw = sum(d[p][1] for p in parts)
    rss = sum(d[p][2] for p in parts)
    split = ", ".join(f"{p} {d[p][0]:.0f}" for p in parts)
    return total, sw, rss, split


def report(b, parts, user, half, peer_rows, roost_paced=None, go_paced=None):
    print("| workload | req/s | p50 ms | p99 ms | errors | stack CPU µs/req (per process) | database CPU µs/req |"
          " context switches/req (stack) | stack RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    by = {}
    for label, r, d in b.rows:
        if "stack" in d:
            continue  # a peer's row: the second table
        by[label.split(" (")[0]] = (r, d)
        total, sw, rss, split = fmt_parts(d, parts)
        if label.startswith("direct C"):
            # bench/direct_read is the client here: no Roost process works.
            stack_txt, sw_txt, rss_txt = "— (no Roost process involved)", "—", "—"
        else:
            stack_txt, sw_txt, rss_txt = f"**{total:.0f}** ({split})", f"{sw:.1f}", f"{rss:.0f}"
        print(f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} | {stack_txt} |"
              f" {d['database'][0]:.0f} | {sw_txt} | {rss_txt} |")
    ratios = []
    if "static" in by and "nng ping" in by:
        ratios.append(f"nng ping ÷ static {ratio(by['nng ping'][0]['rps'], by['static'][0]['rps'])}")
    cpu = {key: fmt_parts(d, parts)[0] for key, (r, d) in by.items()}
    for key, what in (("user by id, processes not pinned", "not pinned"),
                      (f"user by id, as on a {FAKE_CPUS}-CPU node", f"as on a {FAKE_CPUS}-CPU node")):
        if key in cpu and "user by id" in cpu:
            ratios.append(f"stack CPU per request {what} ÷ pinned on this machine "
                          f"{ratio(cpu[key], cpu['user by id'])}, req/s {ratio(by[key][0]['rps'], user['rps'])}")
    if user is not None and "direct C" in by:
        ratios.append(f"user by id ÷ direct C {ratio(user['rps'], by['direct C'][0]['rps'])}")
    if half is not None:
        ratios.append(f"the paced row reached {half['rps']:.0f} req/s ({ratio(half['rps'], user['rps'])} of the peak)"
                      f" with p99 {half['p99']:.2f} ms")
    if ratios:
        print()
        print("Ratios in this run: " + "; ".join(ratios) + ".")
    if peer_rows and user is None:
        print()
        print("The peers' rows are compared with Roost's user-by-id row, which BENCH_ROWS left out:")
        for name, r, d in peer_rows:
            print(f"- {peerlib.LABELS[name]}: {r['rps']:.0f} req/s, p99 {r['p99']:.2f} ms, stack CPU "
                  f"{d['stack'][0]:.0f} µs/req, database {d['database'][0]:.0f} µs/req")
    if peer_rows and user is not None:
        print()
        print("GET one user by id, the same stored document in the same database process, "
              f"wrk -t{WRK_THREADS} -c{CONNECTIONS} -d{SECONDS}s after {WARMUP} s of warm-up:")
        print()
        print("| stack | req/s | p50 ms | p99 ms | errors | req/s ÷ Roost | stack CPU µs/req | database CPU µs/req |"
              " context switches/req (stack) | stack RSS MiB |")
        print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        ud = [d for label, r, d in b.rows if label.startswith("user by id (")][0]
        total, sw, rss, _ = fmt_parts(ud, parts)
        print(f"| Roost (ingress → 2 workers, direct) | {user['rps']:.0f} | {user['p50']:.2f} | {user['p99']:.2f} |"
              f" {user['errors']} | 1.00 | {total:.0f} | {ud['database'][0]:.0f} | {sw:.1f} | {rss:.0f} |")
        for name, r, d in peer_rows:
            print(f"| {peerlib.LABELS[name]} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['errors']} |"
                  f" {ratio(r['rps'], user['rps'])} | {d['stack'][0]:.0f} | {d['database'][0]:.0f} |"
                  f" {d['stack'][1]:.1f} | {d['stack'][2]:.0f} |")
    if roost_paced is not None and go_paced is not None:
        (rr, rd), (gr, gd) = roost_paced, go_paced
        print()
        print(f"The database's CPU per read at the same rate, both paced: Roost {rd['database'][0]:.0f} µs at "
              f"{rr['rps']:.0f} req/s, the Go peer {gd['database'][0]:.0f} µs at {gr['rps']:.0f} req/s "
              f"(stack CPU {fmt_parts(rd, parts)[0]:.0f} and {gd['stack'][0]:.0f} µs, "
              f"p99 {rr['p99']:.2f} and {gr['p99']:.2f} ms).")
    print()
    print(("Roost's processes placed as make run places them (ingress on CPU 0, pool on CPU 1; the 'not pinned' "
           "row excepted), the peers' left to the kernel; " if PIN else "No process pinned; ") +
          ("Roost's access log on. " if os.environ.get("BENCH_ACCESS_LOG") == "1" else
           "Roost's access log off (ROOST_ACCESS_LOG=0), as the peers write none; BENCH_ACCESS_LOG=1 turns it on. ") +
          "Per-process CPU is read in clock ticks of 1/" + str(HZ) + " s.")
    print(f"{os.cpu_count()} cores, shared by wrk ({WRK_THREADS} threads, {CONNECTIONS} connections), the stack and "
          f"the database (roost-embedded-db: MongoDB's wire protocol over SQLite); {SECONDS} s per row after {WARMUP} s of warm-up; "
          "CPU and context switches from /proc/PID/stat and /proc/PID/task/*/status around each row; "
          "RSS is VmRSS at the row's end.")


if __name__ == "__main__":
    if "--serve" in sys.argv:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    else:
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    sys.exit(main())
