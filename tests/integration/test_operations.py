"""Operating Roost: Prometheus metrics of the ingress (GET /metrics), of a
broker and of its workers (ROOST_METRICS_PORT and the ports after it), each
checked by `promtool check metrics` (Debian's prometheus package) and shown
to move with traffic; and JSON logs (ROOST_LOG_FORMAT=json) whose request id
joins the ingress's, the broker's and the worker's lines about one request.
A real stack on loopback: embedded database, one pool, the ingress."""
import json
import re
import shutil
import subprocess
import time
import uuid

import pytest
import bson
import pynng
import requests

from roost_stack import Stack, free_port, free_ports, port_open, running, wait_until

# name, {labels} (values quoted; they may hold braces: route="/api/v1/users/{id}"), value
SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\]|\\.)*")*\})? (\S+)$')


def samples(text):
    """{(name, labels text): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        m = SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def promtool(text):
    tool = shutil.which("promtool")
    assert tool, "promtool is missing: scripts/setup.sh installs Debian's prometheus package"
    p = subprocess.run([tool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.fixture(scope="module")
def stack():
    port = free_ports(3)
    env = {"ROOST_METRICS_PORT": str(port), "ROOST_LOG_FORMAT": "json", "ROOST_LOG_LEVEL": "debug"}
    with running(workers=2, env=env) as s:
        s.metrics_urls = {"ingress": s.url("/metrics"), "broker": f"http://127.0.0.1:{port}/metrics",
                          "worker 1": f"http://127.0.0.1:{port + 1}/metrics",
                          "worker 2": f"http://127.0.0.1:{port + 2}/metrics"}
        # Ready means one worker answers; the other may still be starting.
        for url in s.metrics_urls.values():
            wait_until(lambda: requests.get(url, timeout=2).status_code == 200, 15, url)
        wait_until(lambda: 'roost_broker_workers_connected{service="all"} 2' in requests.get(
            s.metrics_urls["broker"], timeout=2).text, 15, "both workers connected to the broker")
        yield s


def scrape(url):
    r = requests.get(url, timeout=5)
    assert r.status_code == 200, (url, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers
    return r.text


def test_every_endpoint_passes_promtool(stack):
    requests.get(stack.url("/ping"), timeout=5)
    for name, url in stack.metrics_urls.items():
        text = scrape(url)
        promtool(text)
        for metric in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds",
                       "process_start_time_seconds"):
            assert f"\n{metric} " in "\n" + text, (name, metric)


def total(url, name, **labels):
    """The sum of `name`'s samples whose labels include `labels`."""
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for (n, lab), v in samples(scrape(url)).items() if n == name and all(w in lab for w in want))


def test_counters_move_with_traffic(stack):
    urls = stack.metrics_urls
    before_http = total(urls["ingress"], "roost_http_requests_total", route="/api/v1/users/{id}", method="GET",
                        status="404")
    before_hist = total(urls["ingress"], "roost_http_request_duration_seconds_count", route="/api/v1/users/{id}")
    before_calls = total(urls["ingress"], "roost_nng_calls_total", outcome="ok")
    before_broker = total(urls["broker"], "roost_broker_requests_total", outcome="answered")
    before_ops = sum(total(urls[w], "roost_worker_ops_total", op="users.get", status="404")
                     for w in ("worker 1", "worker 2"))
    before_mongo = sum(total(urls[w], "roost_worker_mongo_wait_seconds_count") for w in ("worker 1", "worker 2"))
    n = 7
    for i in range(n):
        r = requests.get(stack.url(f"/api/v1/users/{987650 + i}"), timeout=5)
        assert r.status_code == 404, r.text
        # Counted as its response starts: a client holding its answer finds
        # it counted at once, whichever loop thread serves the scrape.
        assert total(urls["ingress"], "roost_http_requests_total", route="/api/v1/users/{id}", method="GET",
                     status="404") == before_http + i + 1
    assert total(urls["ingress"], "roost_http_request_duration_seconds_count",
                 route="/api/v1/users/{id}") == before_hist + n
    assert total(urls["ingress"], "roost_nng_calls_total", outcome="ok") >= before_calls + n
    assert sum(total(urls[w], "roost_worker_ops_total", op="users.get", status="404")
               for w in ("worker 1", "worker 2")) == before_ops + n
    assert sum(total(urls[w], "roost_worker_mongo_wait_seconds_count")
               for w in ("worker 1", "worker 2")) >= before_mongo + n
    # Raw paths never become label values: the ids above are nowhere.
    text = scrape(urls["ingress"])
    assert "987650" not in text
    # HTTP goes to the workers directly: the broker saw none of it. An
    # internal caller's request goes through it.
    assert total(urls["broker"], "roost_broker_requests_total", outcome="answered") == before_broker
    before_wait = total(urls["broker"], "roost_broker_wait_seconds_count")
    assert stack.roostctl("call", "sys.ping").returncode == 0
    assert total(urls["broker"], "roost_broker_requests_total", outcome="answered") == before_broker + 1
    assert total(urls["broker"], "roost_broker_wait_seconds_count") == before_wait + 1
    # What the autoscaler weighs: the workers' busy contexts and the
    # ingress's queue of each pool (nothing waits now).
    for w in ("worker 1", "worker 2"):
        assert samples(scrape(urls[w]))[("roost_worker_busy_contexts", '{service="all"}')] == 0
    queued = {labels: v for (name, labels), v in samples(scrape(urls["ingress"])).items()
              if name == "roost_ingress_queued_requests"}
    assert '{service="users"}' in queued and set(queued.values()) == {0}, queued
    # Every roost_* series of a broker or worker names its service (the
    # autoscaler's selector); this stack's one pool serves them all.
    broker = samples(scrape(urls["broker"]))
    assert broker[("roost_broker_workers_connected", '{service="all"}')] == 2
    assert broker[("roost_broker_queue_depth", '{service="all"}')] == 0
    assert all('service="all"' in labels for name, labels in broker if name.startswith("roost_"))


def test_unmatched_routes_and_odd_methods_are_counted_without_their_text(stack):
    before = total(stack.metrics_urls["ingress"], "roost_http_requests_total", route="unmatched", status="404")
    requests.get(stack.url("/no/such/route/secret-token-123"), timeout=5)
    requests.request("BREW", stack.url("/ping"), timeout=5)
    text = scrape(stack.metrics_urls["ingress"])
    assert "secret-token-123" not in text and "BREW" not in text
    assert total(stack.metrics_urls["ingress"], "roost_http_requests_total", route="unmatched",
                 status="404") == before + 1


def test_metrics_ports_answer_only_get_metrics(stack):
    broker = stack.metrics_urls["broker"]
    assert requests.get(broker.replace("/metrics", "/other"), timeout=5).status_code == 404
    r = requests.post(broker, timeout=5)
    assert r.status_code == 405 and "GET" in r.headers["Allow"]


def json_lines_of(stack, rid):
    """Every JSON log line of the stack's processes that carries `rid`, by process."""
    lines = {}
    for name in ("ingress", "pool"):
        for line in stack.log(name).splitlines():
            if not line.startswith("{"):
                continue
            doc = json.loads(line)  # every JSON line parses
            for key in ("time", "level", "process", "pid", "msg"):
                assert key in doc, (key, line)
            if doc.get("rid") == rid:
                lines.setdefault(doc["process"], []).append(doc)
    return lines


def test_json_logs_join_one_request_across_the_ingress_broker_and_worker(stack):
    rid = uuid.uuid4().hex
    r = requests.get(stack.url("/ping"), headers={"X-Request-Id": rid}, timeout=5)
    assert r.status_code == 200 and r.headers["X-Request-Id"] == rid
    time.sleep(0.3)  # the ingress writes its access line when h2o releases the request
    lines = json_lines_of(stack, rid)
    assert set(lines) == {"ingress", "worker"}, lines  # HTTP reaches the worker directly
    access = lines["ingress"][0]
    assert access["status"] == 200 and access["op"] == "sys.ping" and access["service"] == "sys"
    assert access["duration_ms"] >= 0 and access["msg"] == "GET /ping"
    worker = lines["worker"][0]
    assert worker["op"] == "sys.ping" and worker["status"] == 200 and "duration_ms" in worker
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", access["time"])
    # An internal caller's request goes through the broker, which logs it too.
    rid = uuid.uuid4().hex
    with pynng.Req0(dial=stack.pool_url, recv_timeout=5000) as sock:
        sock.send(bson.encode({"v": 1, "op": "sys.ping", "rid": rid}))
        assert bson.decode(sock.recv())["status"] == 200
    time.sleep(0.3)
    lines = json_lines_of(stack, rid)
    assert set(lines) == {"pool", "worker"}, lines
    assert "duration_ms" in lines["pool"][0] and lines["worker"][0]["op"] == "sys.ping"


def test_a_metrics_port_in_use_stops_the_broker_with_a_clear_error():
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        s = Stack(workers=1, env={"ROOST_METRICS_PORT": str(port)})
        try:
            s.start_db()
            s.start_pool()
            s.procs["pool"].wait(15)
            assert s.procs["pool"].returncode != 0
            assert f"cannot serve metrics on 127.0.0.1:{port}" in s.log("pool")
        finally:
            s.stop()


def test_the_grafana_dashboard_uses_only_exported_metrics(stack):
    """deploy/grafana/roost-dashboard.json parses, and every metric its
    expressions name is one the ingress, a broker or a worker exports."""
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "deploy", "grafana", "roost-dashboard.json")) as f:
        dash = json.load(f)
    exported = exported_names(stack)
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 10 and dash["panels"], dash.get("title")
    named = {n for e in exprs for n in re.findall(r"\b((?:roost|process)_[a-z_]+)\b", e)}
    assert named, exprs
    assert named <= exported, f"the dashboard names metrics nobody exports: {sorted(named - exported)}"
    for wanted in ("roost_http_requests_total", "roost_http_request_duration_seconds_bucket",
                   "roost_ingress_queued_requests", "roost_worker_busy_contexts", "roost_broker_workers_connected"):
        assert wanted in named, wanted


def exported_names(stack):
    """Every metric name the ingress, a broker and a worker export (histograms
    with their _bucket, _sum and _count)."""
    names = set()
    for url in stack.metrics_urls.values():
        for line in scrape(url).splitlines():
            if line.startswith("# TYPE "):
                name, kind = line.split()[2:4]
                names.add(name)
                if kind == "histogram":
                    names.update({name + "_bucket", name + "_sum", name + "_count"})
    return names


def test_the_autoscaler_and_the_adapter_name_only_exported_metrics(stack):
    """The workers' HPAs (k8s/, every overlay) scale on metrics the brokers
    really export, each served by a rule of deploy/prometheus-adapter.yaml,
    and the pods expose the metrics port their scrape annotations name."""
    import os
    import yaml
    from roost_stack import TOOLS
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    exported = exported_names(stack)
    with open(os.path.join(root, "deploy", "prometheus-adapter.yaml")) as f:
        rules = yaml.safe_load(f)["rules"]["external"]
    served = {r["name"]["as"] for r in rules}
    for r in rules:
        named = set(re.findall(r"\b(roost_[a-z_]+)\b", r["seriesQuery"] + " " + r["metricsQuery"]))
        assert named and named <= exported, (r, sorted(named - exported))
    assert served <= exported, sorted(served - exported)
    for overlay in ("overlays/dev", "overlays/prod"):
        out = subprocess.run([os.path.join(TOOLS, "kustomize"), "build", os.path.join(root, "k8s", overlay)],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        objects = [o for o in yaml.safe_load_all(out) if o]
        hpas = [o for o in objects if o["kind"] == "HorizontalPodAutoscaler"]
        assert len(hpas) == 5, overlay
        for hpa in hpas:
            names = {m["external"]["metric"]["name"] for m in hpa["spec"]["metrics"] if m["type"] == "External"}
            assert names and names <= served, (overlay, hpa["metadata"]["name"], names - served)
        for o in objects:
            if o["kind"] not in ("StatefulSet", "Deployment"):
                continue
            pod = o["spec"]["template"]
            notes = pod["metadata"].get("annotations", {})
            if notes.get("prometheus.io/scrape") != "true":
                continue
            c = pod["spec"]["containers"][0]
            env = {e["name"]: e.get("value") for e in c.get("env", [])}
            ports = {p["containerPort"] for p in c.get("ports", [])}
            assert int(notes["prometheus.io/port"]) in ports, (overlay, o["metadata"]["name"])
            assert env.get("ROOST_METRICS_PORT") == notes["prometheus.io/port"], (overlay, o["metadata"]["name"])
            assert notes.get("prometheus.io/path") == "/metrics"


def test_idle_connections_to_a_metrics_port_are_closed_and_bounded(stack):
    """Idle scrapers are closed after 5 s and at most 16 are held, so they
    cannot take the descriptors the broker needs; nng keeps serving."""
    import socket
    port = int(stack.metrics_urls["broker"].split(":")[2].split("/")[0])
    idle = []
    for _ in range(24):
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # and never the end of the headers
        idle.append(sock)
    try:
        assert requests.get(stack.url("/ping"), timeout=5).status_code == 200
        deadline = time.monotonic() + 12
        for sock in idle:
            # The server closes it: recv ends with b"" well before the deadline
            # (a socket.timeout here means it was held open).
            # (those over the limits are refused at once: a reset).
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                while sock.recv(65536):
                    pass
            except ConnectionResetError:
                pass
    finally:
        for sock in idle:
            sock.close()
    # Scrapes are served again once the server has seen those closes.
    wait_until(lambda: requests.get(stack.metrics_urls["broker"], timeout=2).status_code == 200, 10,
               "the broker's metrics to answer again")


def test_log_lines_keep_utf8_and_ids_clean(stack):
    """A path cut in the middle of a UTF-8 character is logged with U+FFFD,
    never with bytes from beyond it."""
    import socket
    rid = uuid.uuid4().hex
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as sock:
        sock.sendall(b"GET /x\xf0\x9f HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + rid.encode() +
                     b"\r\nConnection: close\r\n\r\n")
        while sock.recv(65536):
            pass
    time.sleep(0.3)
    docs = [json.loads(line) for line in stack.log("ingress").splitlines() if rid in line]
    assert docs and docs[0]["msg"] == "GET /x\ufffd\ufffd", docs


def test_a_worker_whose_metrics_port_is_taken_still_serves():
    import socket
    base = free_ports(3)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", base + 1))  # the first worker's
        taken.listen()
        with running(workers=2, env={"ROOST_METRICS_PORT": str(base)}) as s:
            assert requests.get(s.url("/ping"), timeout=5).status_code == 200
            wait_until(lambda: "serving without metrics" in s.log("pool"), 10, "the worker's warning")
            log = s.log("pool")
            assert f"cannot serve metrics on 127.0.0.1:{base + 1}: Address already in use" in log
            assert "restarting" not in log
            # The other worker serves its own, once it has started (which a
            # busy machine can leave until after the first one's warning).
            wait_until(lambda: port_open(base + 2), 30, "the second worker's metrics port")
            assert requests.get(f"http://127.0.0.1:{base + 2}/metrics", timeout=5).status_code == 200


def test_a_metrics_port_without_room_for_the_workers_is_refused():
    s = Stack(workers=2, env={"ROOST_METRICS_PORT": "65535"})
    try:
        s.start_db()
        s.start_pool()
        assert s.procs["pool"].wait(15) == 2
        assert "ROOST_METRICS_PORT=65535 leaves no port for 2 workers' metrics" in s.log("pool")
    finally:
        s.stop()
