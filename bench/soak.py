#!/usr/bin/env python3
"""`make soak`: SOAK_SECONDS (300) of mixed traffic — reads, writes, logins
good and bad, bookings made and cancelled — against a stack built like
`make run` (a pool per service group, two workers each) from the given
build directory; given several (`make soak`: the plain build and the ASan
build), one soak each at the same time. Prints the resident
memory of every process once a minute (the least and the most of a sample
a second), then checks that

* in a plain build, after the first minute (the start), every Roost
  process's least RSS of each minute stays within SOAK_RSS_TOLERANCE (10 %)
  of the second minute's (the embedded database's is printed, not judged:
  its cache grows with the data; an ASan build's is printed, not judged:
  ASan's allocator and quarantine grow for minutes), and
* no process wrote a sanitizer or LeakSanitizer report (the stack is
  stopped by pid, gracefully, so leaks are reported at exit).

Exit status 0 when both hold. Talks only to loopback."""
import datetime
import os
import random
import sys
import threading
import time
import uuid

import subprocess

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def soak_each(builds):
    """Several builds: one soak each, at the same time, their lines prefixed
    with the build's name; the exit status is the worst."""
    procs = [subprocess.Popen([sys.executable, __file__, b], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True) for b in builds]
    threads = []
    for b, p in zip(builds, procs):
        def pump(b=b, p=p):
            for line in p.stdout:
                print(f"[{os.path.basename(os.path.normpath(b))}] {line}", end="", flush=True)
        t = threading.Thread(target=pump)
        t.start()
        threads.append(t)
    for t in threads:
        t.join()
    return max(p.wait() for p in procs)


if __name__ == "__main__" and len(sys.argv) > 2:
    sys.exit(soak_each(sys.argv[1:]))

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
os.environ["ROOST_BUILD_DIR"] = BUILD
os.environ["ROOST_NEED_EMBEDDED_DB"] = "1"
if os.path.exists(os.path.join(BUILD, "CMakeCache.txt")) and "ROOST_SANITIZE:BOOL=ON" in open(
        os.path.join(BUILD, "CMakeCache.txt")).read():
    os.environ["ROOST_SANITIZED"] = "1"
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from roost_stack import Stack  # noqa: E402

SECONDS = int(os.environ.get("SOAK_SECONDS", "300"))
TOLERANCE = float(os.environ.get("SOAK_RSS_TOLERANCE", "0.10"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "8"))
PASSWORD = "correct horse"


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def processes(stack):
    """name -> pid of every process of the stack: the database, the
    ingress, each pool's broker and its workers."""
    out = {}
    for name, proc in stack.procs.items():
        out[name] = proc.pid
        if name.startswith("pool"):
            for i, pid in enumerate(stack.worker_pids(name)):
                out[f"{name}/worker{i}"] = pid
    return out


class Client(threading.Thread):
    def __init__(self, stack, stop, counts, lock):
        super().__init__(daemon=True)
        self.s, self.stop, self.counts, self.lock = stack, stop, counts, lock
        self.http = requests.Session()
        self.rng = random.Random()

    def count(self, what, status):
        key = f"{what} {status}"
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def url(self, path):
        return self.s.url(path)

    def setup(self):
        self.username = "soak" + uuid.uuid4().hex[:10]
        r = self.http.post(self.url("/api/v1/users"), json={
            "username": self.username, "password": PASSWORD, "first_name": "Soak", "last_name": "Client",
            "birth_date": "1990-01-01"}, timeout=30)
        self.uid = r.json()["id"]
        self.login()
        r = self.http.post(self.url("/api/v1/properties"), headers=self.auth, timeout=30,
                           json={"name": "Soak", "type": "house", "city": "Faro", "address": "1 Rua"})
        self.pid = r.json()["id"]

    def login(self):
        """Logs in; a 503 (every password check busy) is tried again after its Retry-After."""
        for _ in range(20):
            r = self.http.post(self.url("/api/v1/auth/token"),
                               json={"username": self.username, "password": PASSWORD}, timeout=30)
            self.count("login", r.status_code)
            if r.status_code != 503:
                break
            time.sleep(float(r.headers.get("Retry-After", "1")) / 4)
        if r.status_code == 200:
            self.auth = {"Authorization": "Bearer " + r.json()["access_token"]}
        elif not hasattr(self, "auth"):
            raise RuntimeError(f"login answered {r.status_code}: {r.text[:200]}")

    def step(self):
        roll = self.rng.random()
        if roll < 0.45:
            path = self.rng.choice([f"/api/v1/users/{self.uid}", f"/api/v1/properties/{self.pid}",
                                    "/api/v1/properties?per_page=20", "/api/v1/users?per_page=10", "/api/v1/cities",
                                    "/api/v1/listings?per_page=10"])
            r = self.http.get(self.url(path), timeout=30)
            self.count("read", r.status_code)
        elif roll < 0.65:
            r = self.http.patch(self.url(f"/api/v1/properties/{self.pid}"), headers=self.auth, timeout=30,
                                json={"name": "Soak " + uuid.uuid4().hex[:6]})
            self.count("write", r.status_code)
        elif roll < 0.72:
            r = self.http.post(self.url("/api/v1/listings"), headers=self.auth, timeout=30,
                               json={"listing_type": "rent", "price": self.rng.randint(100, 5000)})
            self.count("write", r.status_code)
        elif roll < 0.80:
            self.login()
        elif roll < 0.85:
            r = self.http.post(self.url("/api/v1/auth/token"),
                               json={"username": self.username + "x", "password": "wrong"}, timeout=30)
            self.count("bad login", r.status_code)
        else:
            start = datetime.date.today() + datetime.timedelta(days=self.rng.randint(1, 3000))
            r = self.http.post(self.url(f"/api/v1/properties/{self.pid}/bookings"), headers=self.auth, timeout=30,
                               json={"check_in": start.isoformat(),
                                     "check_out": (start + datetime.timedelta(days=2)).isoformat()})
            self.count("booking", r.status_code)
            if r.status_code == 201:
                c = self.http.post(self.url(f"/api/v1/bookings/{r.json()['id']}/cancel"), headers=self.auth,
                                   timeout=30)
                self.count("cancel", c.status_code)

    def run(self):
        try:
            self.setup()
        except Exception as e:  # counted, so the soak fails
            self.count(f"error setup {type(e).__name__}: {e}", 0)
            return
        while not self.stop.is_set():
            try:
                self.step()
            except requests.RequestException as e:
                self.count("error " + type(e).__name__, 0)


def main():
    # The write limits would turn most of this traffic into 429s from one
    # address: off here, so that the writes reach the workers. The login
    # limits stay (the bad logins meet them).
    stack = Stack(workers=2, pools=[["users"], ["properties", "places"], ["listings", "bookings"]],
                  env={"ROOST_WRITE_LIMIT_PER_USER": "0", "ROOST_WRITE_LIMIT_PER_ADDRESS": "0"})
    if os.environ.get("ROOST_SANITIZED") == "1":
        # ASan keeps freed memory in a quarantine of up to 256 MiB per
        # process to catch use after free; filling it reads as growth for
        # minutes (a broker frees little per request: 16 MiB still took
        # three). 1 MiB fills within seconds and still catches a use soon
        # after the free.
        stack.extra_env["ASAN_OPTIONS"] = f"detect_leaks=1:quarantine_size_mb=1:log_path={stack.dir}/asan"
    ok = True
    try:
        stack.start()
        stop, lock, counts = threading.Event(), threading.Lock(), {}
        clients = [Client(stack, stop, counts, lock) for _ in range(CLIENTS)]
        for c in clients:
            c.start()
        names = processes(stack)
        samples = {name: [] for name in names}
        t0 = time.monotonic()
        minute = 0
        print(f"soak: {SECONDS} s of mixed traffic from {CLIENTS} clients against {BUILD}", flush=True)
        # Each minute's figure is the least RSS sampled every second in it:
        # a users worker holds up to 19 MiB per password check in flight,
        # which comes and goes within milliseconds; what stays is what grows.
        while True:
            end = t0 + 60 * (minute + 1) if SECONDS >= 60 else t0 + SECONDS
            low, high = {}, {}
            while time.monotonic() < end:
                for name, pid in names.items():
                    kib = rss_kib(pid)
                    if kib:
                        low[name] = min(low.get(name, kib), kib)
                        high[name] = max(high.get(name, kib), kib)
                time.sleep(1)
            minute += 1
            line = []
            for name in names:
                samples[name].append(low.get(name))
                line.append(f"{name}={low[name] // 1024 if name in low else '?'}"
                            f"{'-' + str(high[name] // 1024) if name in high and high[name] != low[name] else ''}MiB")
            print(f"minute {minute} (least-most RSS): " + " ".join(line), flush=True)
            if time.monotonic() - t0 >= SECONDS:
                break
        stop.set()
        for c in clients:
            c.join(35)
        print("answers: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
        # A login may meet every password check busy (503 with Retry-After,
        # by design); any other 5xx, or a request that got no answer, fails.
        bad = {k: v for k, v in counts.items()
               if k.startswith("error") or (k.split()[-1].startswith("5") and not (
                   k.rsplit(" ", 1)[0] in ("login", "bad login") and k.endswith(" 503")))}
        if bad:
            print(f"soak: server errors or failed requests: {bad}")
            ok = False
        judge_rss = os.environ.get("ROOST_SANITIZED") != "1"
        if not judge_rss:
            print("ASan build: RSS printed, not judged (ASan's allocator and quarantine grow for minutes; "
                  "the plain build's RSS is the one judged)")
        for name, series in samples.items():
            # The first minute holds the start (processes growing into their
            # pools and caches): the judgement starts after it.
            series = [x for x in series[1:] if x]
            if len(series) < 2:
                continue
            if name == "db":
                # roost-embedded-db is the laptop's database, not Roost: its
                # page cache grows with the data the soak writes.
                print(f"db (not judged): minute 2 {series[0] // 1024} MiB, last {series[-1] // 1024} MiB")
                continue
            base, worst = series[0], max(series[1:], key=lambda x: abs(x - series[0]))
            drift = (worst - base) / base
            verdict = ("flat" if abs(drift) <= TOLERANCE else "NOT FLAT") if judge_rss else "(not judged)"
            print(f"{name}: minute 2 {base // 1024} MiB, furthest after {worst // 1024} MiB ({drift:+.1%}) {verdict}")
            if abs(drift) > TOLERANCE and judge_rss:
                ok = False
    finally:
        try:
            stack.stop()  # raises on any sanitizer report when ROOST_SANITIZED=1
            print("soak: no sanitizer report" if os.environ.get("ROOST_SANITIZED") == "1"
                  else "soak: not a sanitizer build: no reports to check")
        except AssertionError as e:
            print(f"soak: {e}")
            ok = False
    print("soak: PASS" if ok else "soak: FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
