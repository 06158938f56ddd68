"""Starts real Roost processes for integration tests and stops them by pid.

A Stack owns a temporary directory, free loopback ports, and the processes
it started: the embedded database (roost-embedded-db, SQLite), the worker
pool and the ingress. Nothing here is mocked.
"""
import contextlib
import os
import shutil
import signal
import socket
import struct
import threading
import subprocess
import tempfile
import time
import uuid
import weakref

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ROOST_BUILD_DIR", os.path.join(ROOT, "build"))
# libmongoc keeps its counters in /dev/shm/mongoc-<pid> and removes the file
# only at a clean exit: the processes these tests kill -9 leave theirs, and
# a later process given the same pid (pid_max is often 32768) warns on
# stderr that it falls back to malloc. Every process the tests start
# inherits this, and leaves nothing in /dev/shm.
os.environ.setdefault("MONGOC_DISABLE_SHM", "1")
TOOLS = os.environ.get("ROOST_TOOLS_DIR", os.path.expanduser("~/.cache/roost/bin"))
# Set by ctest for the ASan/UBSan build: any sanitizer report fails the test.
SANITIZED = os.environ.get("ROOST_SANITIZED") == "1"
# A MongoDB of the user's (a replica set, a sharded cluster) that every
# stack uses instead of starting roost-embedded-db: each stack's databases
# have a prefix of their own and are dropped when it stops. Tests that need
# the embedded server's own process (kill it, stop it, restart it on the
# same files, put a proxy before it) skip, saying why (NEEDS_EMBEDDED_DB).
EXTERNAL_DB = os.environ.get("ROOST_TEST_MONGODB_URI") or None
NEEDS_EMBEDDED_DB = ("needs its own roost-embedded-db process (it stops, kills or restarts it, or puts a proxy "
                     "before it); ROOST_TEST_MONGODB_URI names another database")


# Every port this test process has handed out: a port is free when it is
# picked, but nothing holds it until a process listens on it, so without
# this a later pick (another stack's, or a range of free_ports) could name it
# again and one of the two listeners would fail with "Address in use".
_handed_out = set()


def _bindable(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port():
    """A port free on loopback now, never handed out before in this process."""
    for _ in range(1000):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise AssertionError("no free port left that was not handed out already")


def free_ports(n):
    """The first of `n` consecutive ports free on loopback now, none handed out before."""
    for _ in range(200):
        base = free_port()
        ports = range(base, base + n)
        if base + n > 65535 or any(p in _handed_out for p in ports[1:]) or not all(_bindable(p) for p in ports):
            continue
        _handed_out.update(ports)
        return base
    raise AssertionError(f"no {n} consecutive free ports")


def wait_until(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
            last = None
        except Exception as e:  # noqa: BLE001 - the last one is reported below
            last = e
        time.sleep(0.05)
    said = f" (last attempt: {type(last).__name__}: {last})" if last is not None else ""
    raise AssertionError(f"timed out after {seconds}s waiting for {what}{said}")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """`pools`: None for one pool serving every service, or a list of service
    lists, one pool each (e.g. [["users"], ["listings"], ["properties", "places"]]),
    wired together through ROOST_POOL_URL_<SERVICE> as `make run` does."""

    live = weakref.WeakSet()  # every stack not yet stopped, for conftest's report on a failure

    def __init__(self, workers=2, env=None, db_uri=None, pools=None, tls=False, direct=None):
        """`tls`: every nng URL is tls+tcp:// (mutual TLS; `env` must name the
        PEM files, see pki_env). `direct`: the ingress reaches the workers
        directly (ROOST_SERVE_URL, ROOST_WORKERS_URL), as `make run` does;
        False sends every request through the brokers over nng."""
        self.dir = tempfile.mkdtemp(prefix="roost-test-")
        Stack.live.add(self)
        self.workers = workers
        self.http_port = free_port()
        scheme = "tls+tcp" if tls else "tcp"
        self.pool_url = f"{scheme}://127.0.0.1:{free_port()}"
        self.worker_url = f"{scheme}://127.0.0.1:{free_port()}"
        self.pools = {}  # pool name -> (services, client url, worker url)
        for services in pools or []:
            self.pools["pool-" + "-".join(services)] = (services, f"tcp://127.0.0.1:{free_port()}",
                                                         f"tcp://127.0.0.1:{free_port()}")
        self.direct = True if direct is None else direct
        self.scheme = scheme
        # pool name ("pool" for the one pool) -> the first of its workers' direct ports
        self.serve_base = {name: free_ports(workers) for name in (self.pools or ["pool"])}
        self.prefix = "t" + uuid.uuid4().hex[:8] + "_"
        self.procs = {}
        self.db_port = None
        self.db_uri = db_uri
        self.extra_env = env or {}
        self.base = f"http://127.0.0.1:{self.http_port}"

    # --- processes ---------------------------------------------------------
    def env(self):
        e = dict(os.environ)
        e.update({
            "ROOST_HTTP_PORT": str(self.http_port),
            "ROOST_HTTP_HOST": "127.0.0.1",
            "ROOST_POOL_URL": self.pool_url,
            "ROOST_WORKER_URL": self.worker_url,
            "ROOST_MONGODB_URI": self.db_uri,
            "ROOST_DB_PREFIX": self.prefix,
            "ROOST_WORKERS": str(self.workers),
            "ROOST_DATA_DIR": self.dir,
        })
        for services, client_url, _ in self.pools.values():
            for service in services:
                e["ROOST_POOL_URL_" + service.upper()] = client_url
        if self.pools:
            e["ROOST_POOL_URL"] = next(iter(self.pools.values()))[1]  # sys ops
        if self.direct:
            for name, base in self.serve_base.items():
                workers = self.workers_url(name)
                for service in self.pools.get(name, ([],))[0]:
                    e["ROOST_WORKERS_URL_" + service.upper()] = workers
            first = next(iter(self.serve_base))
            e["ROOST_WORKERS_URL"] = self.workers_url(first)  # sys ops, or every service of the one pool
            e["ROOST_SERVE_URL"] = f"{self.scheme}://127.0.0.1:{self.serve_base[first]}"
        if SANITIZED:
            # Every process writes its sanitizer reports here; stop() fails on any.
            e["ASAN_OPTIONS"] = f"detect_leaks=1:fast_unwind_on_malloc=0:log_path={self.dir}/asan"
            e["LSAN_OPTIONS"] = f"print_suppressions=0:suppressions={os.path.join(ROOT, 'tests', 'lsan.supp')}"
            e["UBSAN_OPTIONS"] = f"print_stacktrace=1:log_path={self.dir}/ubsan"
        e.update(self.extra_env)
        return e

    def workers_url(self, pool="pool"):
        """The ingress's list of the direct ports of a pool's workers."""
        base = self.serve_base[pool]
        return ",".join(f"{self.scheme}://127.0.0.1:{base + i}" for i in range(self.workers))

    def _spawn(self, name, argv, env=None):
        log = open(os.path.join(self.dir, f"{name}.log"), "ab")
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env or self.env(),
                                start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def start_db(self):
        if EXTERNAL_DB is not None:
            self.db_uri, self.db_port = EXTERNAL_DB, None
            return
        self.db_port = free_port()
        self.db_uri = f"mongodb://127.0.0.1:{self.db_port}"
        binary = os.path.join(TOOLS, "roost-embedded-db")
        assert os.access(binary, os.X_OK), f"{binary} is missing: run scripts/setup.sh"
        self._spawn("db", [binary, "-listen-addr", f"127.0.0.1:{self.db_port}",
                           "-data-dir", os.path.join(self.dir, "db"),
                           "-log-level", "info"])  # slow commands (> 500 ms) are logged, for a failure's report
        wait_until(lambda: port_open(self.db_port), 30, "the embedded database")

    def start_pool(self, name=None):
        """Starts the one pool, or the pool `name` of a per-service stack."""
        binary = [os.path.join(BUILD, "workers", "roost-worker"), "--pool", str(self.workers)]
        if not self.pools:
            self._spawn("pool", binary)
            return
        for pool, (services, client_url, worker_url) in self.pools.items():
            if name is not None and pool != name:
                continue
            env = self.env()
            env.update({"ROOST_SERVICES": ",".join(services), "ROOST_POOL_URL": client_url,
                        "ROOST_WORKER_URL": worker_url})
            if self.direct:
                env["ROOST_SERVE_URL"] = f"{self.scheme}://127.0.0.1:{self.serve_base[pool]}"
            self._spawn(pool, binary, env=env)

    def start_ingress(self):
        self._spawn("ingress", [os.path.join(BUILD, "ingress", "roost-ingress")])
        wait_until(lambda: port_open(self.http_port), 10, "the ingress port")

    def migrate(self, *args, check=True):
        """`roostctl migrate up` (or the given arguments) against this stack's database."""
        r = self.roostctl("migrate", *(args or ("up",)), timeout=60)
        assert not check or r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        return r

    def start(self):
        if self.db_uri is None:
            self.start_db()
        self.migrate()  # as make run and the Kubernetes Job do, before any worker
        self.start_pool()
        self.start_ingress()
        self.wait_ready()
        return self

    def wait_ready(self, seconds=30):
        wait_until(lambda: requests.get(self.base + "/readyz", timeout=2).status_code == 200, seconds,
                   "GET /readyz to answer 200")

    def stop_process(self, name, sig=signal.SIGTERM, timeout=10):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop(self):
        Stack.live.discard(self)
        for name in ("ingress", "pool", *self.pools, "db"):
            self.stop_process(name)
        for name in list(self.procs):
            self.stop_process(name)
        if EXTERNAL_DB is not None and self.db_uri == EXTERNAL_DB:
            self._drop_databases()
        if SANITIZED and os.path.isdir(self.dir):
            reports = [f for f in os.listdir(self.dir) if f.startswith(("asan.", "ubsan."))]
            text = "".join(open(os.path.join(self.dir, f), errors="replace").read() for f in reports)
            assert not reports, f"sanitizer reports in {self.dir}:\n{text[:4000]}"
        # The database files and logs go with the stack (ROOST_KEEP_TEST_DIRS=1
        # keeps them to look at); a sanitizer report above keeps them too.
        if os.environ.get("ROOST_KEEP_TEST_DIRS") != "1":
            shutil.rmtree(self.dir, ignore_errors=True)

    def _drop_databases(self):
        """On the user's MongoDB, this stack's databases go with it."""
        try:
            client = self.mongo()
            for name in client.list_database_names():
                if name.startswith(self.prefix):
                    client.drop_database(name)
            client.close()
        except Exception as e:  # noqa: BLE001 - said, not fatal: the test's own result stands
            print(f"could not drop this stack's databases ({self.prefix}*) on ROOST_TEST_MONGODB_URI: {e}")

    def worker_pids(self, pool_name="pool"):
        """A pool's child worker processes, read from /proc."""
        pool = self.procs[pool_name].pid
        with open(f"/proc/{pool}/task/{pool}/children") as f:
            return [int(p) for p in f.read().split()]

    def log_tails(self, lines=30):
        """The last lines of each process's log, for a failure report."""
        out = []
        for f in sorted(os.listdir(self.dir)) if os.path.isdir(self.dir) else []:
            if f.endswith(".log"):
                with open(os.path.join(self.dir, f), errors="replace") as fh:
                    out.append(f"--- {self.dir}/{f} ---\n" + "".join(fh.readlines()[-lines:]))
        return "\n".join(out)

    def log(self, name):
        with open(os.path.join(self.dir, f"{name}.log"), errors="replace") as f:
            return f.read()

    # --- clients ---------------------------------------------------------------
    def url(self, path):
        return self.base + path

    def mongo(self):
        import pymongo
        return pymongo.MongoClient(self.db_uri, serverSelectionTimeoutMS=5000)

    def roostctl(self, *args, timeout=15):
        env = self.env()
        return subprocess.run([os.path.join(BUILD, "tools", "roostctl"), *args], capture_output=True, text=True,
                              env=env, timeout=timeout)


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    """A self-signed CA in directory d; returns its name."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", f"/CN={name}", "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)
    return name


def make_cert(d, ca, name):
    """A certificate for 127.0.0.1 and localhost, good as server and client, signed by `ca`; returns the PEM
    file holding the certificate and its key."""
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={name}",
            "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        # DNS:127.0.0.1 too: Debian's nng checks the dialed host with mbedTLS
        # 2.28, which compares it with DNS names only.
        f.write("subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n")
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-CAcreateserial",
            "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt", cwd=d)
    pem = os.path.join(d, f"{name}.pem")
    with open(pem, "w") as out:
        out.write(open(os.path.join(d, f"{name}.crt")).read() + open(os.path.join(d, f"{name}.key")).read())
    return pem


def make_pki(d):
    """A CA and one certificate signed by it for every Roost process (test
    use only: the keys are unprotected files in d)."""
    ca = make_ca(d, "roost-ca")
    return {"dir": d, "ca": os.path.join(d, f"{ca}.crt"), "good": make_cert(d, ca, "roost")}


def pki_env(pki):
    return {"ROOST_TLS_CA_FILE": pki["ca"], "ROOST_TLS_CERT_KEY_FILE": pki["good"]}


@contextlib.contextmanager
def running(**kwargs):
    """A started Stack for a `with` block (or a fixture), stopped on the way out."""
    s = Stack(**kwargs)
    try:
        s.start()
        yield s
    except BaseException:
        print(s.log_tails())  # pytest shows it with the failure; stop() deletes the logs
        raise
    finally:
        s.stop()


def new_user(n, **over):
    body = {
        "username": f"user{n}",
        "password": "correct horse",
        "first_name": "Ada",
        "last_name": f"Lovelace{n}",
        "birth_date": "1990-12-10",
    }
    body.update(over)
    return body


class DbProxy:
    """A TCP proxy in front of the database, for faults a real database has:
    `delay` holds each of its answers that many seconds (a database that
    works, slowly); `cut` — a predicate on a command's first key and value,
    e.g. ("insert", "nights") — forwards the first matching command, then
    drops that connection before its answer comes back (the command done,
    the client told nothing but a network error)."""

    def __init__(self, port):
        self.port, self.delay, self.cut, self.socks = port, 0.0, None, []
        self.lock = threading.Lock()
        self.ln = socket.create_server(("127.0.0.1", 0))
        self.listen_port = self.ln.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.ln.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(("127.0.0.1", self.port))
            except OSError:
                client.close()  # the database is down: so is this connection
                continue
            self.socks += [client, server]
            cut = threading.Event()  # set: this connection's answers are dropped
            threading.Thread(target=self._requests, args=(client, server, cut), daemon=True).start()
            threading.Thread(target=self._answers, args=(server, client, cut), daemon=True).start()

    @staticmethod
    def _close(*socks):
        for sock in socks:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _command(self, msg):
        """(first key, its value) of an OP_MSG's body, or None."""
        if len(msg) < 26 or struct.unpack_from("<i", msg, 12)[0] != 2013 or msg[20] != 0:
            return None
        key_end = msg.index(b"\0", 26)
        key = msg[26:key_end].decode(errors="replace")
        if msg[25] != 2:  # a string
            return key, None
        n = struct.unpack_from("<i", msg, key_end + 1)[0]
        return key, msg[key_end + 5:key_end + 4 + n].decode(errors="replace")

    def _requests(self, src, dst, cut):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while len(buf) >= 4 and len(buf) >= struct.unpack_from("<i", buf)[0]:
                    n = struct.unpack_from("<i", buf)[0]
                    msg, buf = buf[:n], buf[n:]
                    with self.lock:
                        hit = self.cut is not None and self._command(msg) == self.cut
                        if hit:
                            self.cut = None
                    if hit:
                        cut.set()
                        dst.sendall(msg)
                        time.sleep(0.5)  # the database does it meanwhile
                        raise OSError("cut")
                    dst.sendall(msg)
        except OSError:
            pass
        self._close(src, dst)

    def _answers(self, src, dst, cut):
        try:
            while True:
                data = src.recv(65536)
                if not data or cut.is_set():
                    break
                if self.delay:
                    time.sleep(self.delay)
                dst.sendall(data)
        except OSError:
            pass
        self._close(src, dst)

    def close(self):
        self._close(self.ln)
        self.ln.close()
        for sock in self.socks:
            sock.close()


@contextlib.contextmanager
def running_behind_proxy(**kwargs):
    """A started Stack whose every process reaches the database through a
    DbProxy: yields (stack, proxy)."""
    assert EXTERNAL_DB is None, NEEDS_EMBEDDED_DB
    s = Stack(**kwargs)
    proxy = None
    try:
        s.start_db()
        proxy = DbProxy(s.db_port)
        s.db_uri = f"mongodb://127.0.0.1:{proxy.listen_port}"
        s.start()
        yield s, proxy
    except BaseException:
        print(s.log_tails())
        raise
    finally:
        s.stop()
        if proxy is not None:
            proxy.close()
