"""The deployment files, checked offline (no Docker engine, no cluster).

* k8s/: each of base, overlays/dev and overlays/prod is rendered by the real
  kustomize, every rendered object is validated against the official
  Kubernetes JSON schemas of one pinned version (kubernetes-validate ships
  them), and then the wiring is checked: resources, probes, the broker and
  its Services, the HPA and PDB targets, every ConfigMap/Secret key a
  container reads, MongoDB's replica set.
* deploy/compose.yaml: loaded by roost-compose-check (compose-go, the loader
  of `docker compose`: Compose Specification schema + consistency), then the
  services' ports, URLs and health-gated start order are checked.
* deploy/Dockerfile: its targets exist, every binary it copies is one CMake
  builds, and each target installs the Debian packages of the shared
  libraries its binary really links (read from the built binaries).
* deploy/roost-probe, the images' health check, is run against real sockets.

Tools come from scripts/setup.sh (kustomize and roost-compose-check in
ROOST_TOOLS_DIR, kubernetes-validate in .venv); a missing tool is a failure,
never a skip.
"""
import base64
import fnmatch
import functools
import http.server
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

try:
    import kubernetes_validate
    import yaml
except ImportError as e:  # pragma: no cover - a set-up problem, said plainly
    raise ImportError(f"{e}: run scripts/setup.sh (it installs tests/requirements.txt into .venv)") from e

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("ROOST_BUILD_DIR", ROOT / "build"))
TOOLS = Path(os.environ.get("ROOST_TOOLS_DIR", Path.home() / ".cache/roost/bin"))
K8S_VERSION = "1.30.0"  # the Kubernetes schemas the manifests must satisfy
TARGETS = ["base", "overlays/dev", "overlays/prod"]
OVERLAYS = {"overlays/dev": "roost-dev", "overlays/prod": "roost"}
WORKLOADS = ("Deployment", "StatefulSet", "Job", "DaemonSet")
# Which image (k8s name, compose image) is which Dockerfile target.
IMAGE_TARGET = {"roost-ingress": "ingress", "roost-worker": "worker", "roostctl": "roostctl"}
# Packages that every debian:12-slim image already has.
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}


# --- tools -------------------------------------------------------------------

def tool(name):
    for candidate in (TOOLS / name, shutil.which(name)):
        if candidate and os.access(candidate, os.X_OK):
            return str(candidate)
    pytest.fail(f"{name} is not installed (looked in {TOOLS} and on PATH): run scripts/setup.sh, "
                "which installs it from the Go module proxy", pytrace=False)


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=180, **kw)


@functools.lru_cache(maxsize=None)
def rendered(target):
    kustomize = tool("kustomize")
    version = run([kustomize, "version"]).stdout.strip()
    assert version.startswith("v5."), f"kustomize {version!r}: v5 is needed (scripts/setup.sh installs it)"
    r = run([kustomize, "build", str(ROOT / "k8s" / target)])
    assert r.returncode == 0, f"kustomize build k8s/{target} failed:\n{r.stderr}"
    objs = [o for o in yaml.safe_load_all(r.stdout) if o]
    assert objs, f"k8s/{target} renders nothing"
    return tuple(objs)


def objects(target, kind=None, name=None):
    return [o for o in rendered(target)
            if (kind is None or o["kind"] == kind) and (name is None or o["metadata"]["name"] == name)]


def one(target, kind, name):
    found = objects(target, kind, name)
    assert len(found) == 1, f"k8s/{target}: expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def pod_labels(obj):
    return obj["spec"]["template"]["metadata"].get("labels", {})


def containers(obj):
    spec = pod_spec(obj)
    return spec.get("initContainers", []) + spec["containers"]


def selector_matches(selector, labels):
    """A label selector (matchLabels/matchExpressions, or a Service's plain map) against labels."""
    if "matchLabels" not in selector and "matchExpressions" not in selector:
        selector = {"matchLabels": selector}
    if not selector.get("matchLabels") and not selector.get("matchExpressions"):
        return False  # an empty selector selects everything: never what we mean
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        op, key, values = e["operator"], e["key"], e.get("values", [])
        ok = {"In": key in labels and labels[key] in values,
              "NotIn": labels.get(key) not in values,
              "Exists": key in labels,
              "DoesNotExist": key not in labels}[op]
        if not ok:
            return False
    return True


def selected_workloads(target, selector):
    return [w for w in rendered(target) if w["kind"] in WORKLOADS and selector_matches(selector, pod_labels(w))]


def secret_data(secret):
    data = {k: base64.b64decode(v).decode() for k, v in (secret.get("data") or {}).items()}
    data.update(secret.get("stringData") or {})
    return data


def env_of(target, container):
    """The environment a container gets, with ConfigMap and Secret references resolved."""
    env = {}
    for src in container.get("envFrom", []):
        if "configMapRef" in src:
            env.update(one(target, "ConfigMap", src["configMapRef"]["name"]).get("data", {}))
        if "secretRef" in src:
            env.update(secret_data(one(target, "Secret", src["secretRef"]["name"])))
    for e in container.get("env", []):
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "configMapKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["configMapKeyRef"]
            env[e["name"]] = one(target, "ConfigMap", ref["name"])["data"][ref["key"]]
        elif "secretKeyRef" in e.get("valueFrom", {}):
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secret_data(one(target, "Secret", ref["name"]))[ref["key"]]
    return env


def tcp_url(url):
    m = re.fullmatch(r"(?:tls\+)?tcp://(\[[^\]]+\]|[^:/]+):(\d+)/?", url)
    assert m, f"{url!r} is not a tcp:// or tls+tcp://HOST:PORT URL"
    return m.group(1), int(m.group(2))


def container_port(workload, port):
    """The number of a named or numbered port of a workload's containers."""
    for c in containers(workload):
        for p in c.get("ports", []):
            if port in (p.get("name"), p["containerPort"]):
                return p["containerPort"]
    raise AssertionError(f"{workload['metadata']['name']} has no container port {port!r}")


def service_backend(target, host, port):
    """The workload and container port behind tcp://host:port, through a Service of the overlay."""
    service = one(target, "Service", host.split(".")[0])
    ports = [p for p in service["spec"]["ports"] if p["port"] == port]
    assert ports, f"Service {host} has no port {port}"
    backends = selected_workloads(target, service["spec"]["selector"])
    assert len(backends) == 1, f"Service {host} selects {len(backends)} workloads"
    return backends[0], container_port(backends[0], ports[0].get("targetPort", port))


@functools.lru_cache(maxsize=None)
def roost_env_names():
    """The ROOST_* variables the programs read (names, and prefixes ending in _)."""
    names = set()
    for top in ROOT.iterdir():
        if not top.is_dir() or top.name.startswith((".", "build")) or top.name in ("tests", "bench"):
            continue
        for src in top.rglob("*.c"):
            names.update(re.findall(r'"(ROOST_[A-Z0-9_]+)"', src.read_text(errors="replace")))
    assert {"ROOST_POOL_URL", "ROOST_WORKER_URL", "ROOST_MONGODB_URI"} <= names, "the C sources moved?"
    return frozenset(names)


def known_roost_var(name):
    names = roost_env_names()
    return name in names or any(n.endswith("_") and name.startswith(n) and len(name) > len(n) for n in names)


# --- Kubernetes: rendering and schemas ------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_kustomize_renders(target):
    kinds = {o["kind"] for o in rendered(target)}
    assert {"ConfigMap", "Secret", "Deployment", "Service", "HorizontalPodAutoscaler",
            "PodDisruptionBudget"} <= kinds
    ids = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in rendered(target)]
    assert len(ids) == len(set(ids)), "an object is rendered twice"


@pytest.mark.parametrize("target", TARGETS)
def test_objects_match_kubernetes_schemas(target):
    failures = []
    for o in rendered(target):
        what = f"{o.get('kind')}/{o.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(o, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as e:
            failures.append(f"{what}: {'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            failures.append(f"{what}: {e.message}")
    assert not failures, f"k8s/{target} against Kubernetes {K8S_VERSION}:\n" + "\n".join(failures)


def test_schema_validation_catches_mistakes():
    """The validator is strict: a misspelt field or a wrong type fails."""
    d = json.loads(json.dumps(one("base", "Deployment", "roost-ingress")))
    c = pod_spec(d)["containers"][0]
    c["readinesProbe"] = c.pop("readinessProbe")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)
    c["readinessProbe"] = c.pop("readinesProbe")
    d["spec"]["replicas"] = "2"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(d, K8S_VERSION, strict=True)


def test_base_is_namespace_agnostic():
    assert not objects("base", "Namespace")
    assert [o["metadata"]["name"] for o in rendered("base") if "namespace" in o["metadata"]] == []


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlay_namespace(target):
    ns = OVERLAYS[target]
    one(target, "Namespace", ns)
    for o in rendered(target):
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == ns, f"{o['kind']}/{o['metadata']['name']}"


# --- Kubernetes: workloads --------------------------------------------------------

@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_requests_and_limits(target):
    for w in objects(target):
        if w["kind"] not in WORKLOADS:
            continue
        for c in containers(w):
            res = c.get("resources", {})
            for kind in ("requests", "limits"):
                missing = {"cpu", "memory"} - set(res.get(kind, {}))
                assert not missing, f"{w['kind']}/{w['metadata']['name']} {c['name']}: no {kind} {missing}"


@pytest.mark.parametrize("target", TARGETS)
def test_containers_run_as_non_root_read_only(target):
    for w in objects(target):
        if w["kind"] not in WORKLOADS:
            continue
        pod = pod_spec(w).get("securityContext", {})
        for c in containers(w):
            sc = {**pod, **c.get("securityContext", {})}
            what = f"{w['metadata']['name']}/{c['name']}"
            assert sc.get("runAsNonRoot") is True, what
            assert sc.get("runAsUser", 0) != 0, what
            assert sc.get("readOnlyRootFilesystem") is True, what
            assert sc.get("allowPrivilegeEscalation") is False, what
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), what


@pytest.mark.parametrize("target", TARGETS)
def test_images_are_pinned_and_built_here(target):
    for w in objects(target):
        if w["kind"] not in WORKLOADS:
            continue
        for c in containers(w):
            image = c["image"]
            name, tag = image.rsplit(":", 1) if ":" in image.split("/")[-1] else (image, "")
            assert tag and tag != "latest", f"{image}: give it a tag"
            short = name.split("/")[-1]
            assert short in IMAGE_TARGET or short == "mongo", f"{image}: not an image of deploy/Dockerfile"
            if short in IMAGE_TARGET:
                # The command must be the binary of that Dockerfile target.
                binary = target_binary(IMAGE_TARGET[short])
                assert c.get("command", [binary])[0] == binary, f"{c['name']} runs {c['command']}"
                for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                    argv = c.get(probe, {}).get("exec", {}).get("command")
                    if argv:
                        assert argv[0] in image_programs(IMAGE_TARGET[short]), f"{probe} runs {argv[0]}"
    if target == "overlays/dev":
        assert {c["image"] for w in objects(target, "Deployment") for c in containers(w)} == \
            {"roost-ingress:dev", "roost-worker:dev", "roostctl:dev"}


@pytest.mark.parametrize("target", TARGETS)
def test_ingress_probes(target):
    ingress = one(target, "Deployment", "roost-ingress")
    (c,) = pod_spec(ingress)["containers"]
    env = env_of(target, c)
    ready, live = c.get("readinessProbe"), c.get("livenessProbe")
    assert ready and ready["httpGet"]["path"] == "/readyz"
    assert live and live["httpGet"]["path"] == "/healthz"
    http_port = int(env["ROOST_HTTP_PORT"])
    assert container_port(ingress, ready["httpGet"]["port"]) == http_port
    assert container_port(ingress, live["httpGet"]["port"]) == http_port
    assert env["ROOST_HTTP_HOST"] == "0.0.0.0", "the ingress must listen on the pod's address"
    service = one(target, "Service", "roost-ingress")
    assert selected_workloads(target, service["spec"]["selector"]) == [ingress]
    assert {container_port(ingress, p["targetPort"]) for p in service["spec"]["ports"]} == {http_port}


SERVICES = ["users", "properties", "places", "listings", "bookings"]


# Production speaks mutual TLS between every nng party; base and dev plain TCP.
SCHEME = {"base": "tcp", "overlays/dev": "tcp", "overlays/prod": "tls+tcp"}


def broker_urls(service, port, replicas=2, target="base"):
    return [f"{SCHEME[target]}://roost-broker-{service}-{i}.roost-broker-{service}:{port}" for i in range(replicas)]


@pytest.mark.parametrize("target", TARGETS)
def test_every_service_has_its_own_brokers_with_stable_names(target):
    """No single broker anywhere: each service has a StatefulSet of >= 2
    brokers behind a headless Service, so each has a DNS name of its own."""
    for service in SERVICES:
        sts = one(target, "StatefulSet", f"roost-broker-{service}")
        assert sts["spec"]["replicas"] >= 2, f"{service}: a single broker is a single point of failure"
        headless = one(target, "Service", sts["spec"]["serviceName"])
        assert headless["spec"].get("clusterIP") == "None", "the brokers' Service must be headless"
        assert selected_workloads(target, headless["spec"]["selector"]) == [sts]
        (c,) = pod_spec(sts)["containers"]
        assert c.get("command", []) + c.get("args", []) == ["roost-worker", "--broker", service]
        env = env_of(target, c)
        assert tcp_url(env["ROOST_POOL_URL"]) == ("0.0.0.0", 7100) and tcp_url(env["ROOST_WORKER_URL"]) == ("0.0.0.0", 7101)
        assert container_port(sts, c["readinessProbe"]["tcpSocket"]["port"]) == 7100
        assert {container_port(sts, p["targetPort"]) for p in headless["spec"]["ports"]} == {7100, 7101}
        graceful(target, sts, c)
    for kind in ("Deployment", "StatefulSet"):
        for w in objects(target, kind):
            if pod_labels(w).get("app.kubernetes.io/component") == "broker":
                assert w["spec"].get("replicas", 1) >= 2, w["metadata"]["name"]


@pytest.mark.parametrize("target", TARGETS)
def test_the_ingress_finds_each_services_workers_through_a_headless_service(target):
    """HTTP goes to the workers directly: each service's workers listen on
    7300 and a headless Service of their ready pods is the ingress's list."""
    (ic,) = pod_spec(one(target, "Deployment", "roost-ingress"))["containers"]
    ienv = env_of(target, ic)
    assert ienv["ROOST_WORKERS_URL"] == ienv["ROOST_WORKERS_URL_USERS"], "the sys ops go to the users workers"
    for service in SERVICES:
        worker = one(target, "Deployment", f"roost-worker-{service}")
        (wc,) = pod_spec(worker)["containers"]
        wenv = env_of(target, wc)
        assert wenv["ROOST_SERVE_URL"] == f"{SCHEME[target]}://0.0.0.0:7300"
        svc = one(target, "Service", f"roost-worker-{service}")
        assert svc["spec"]["clusterIP"] == "None" and not svc["spec"].get("publishNotReadyAddresses", False), \
            "the ingress's list must be the ready workers' addresses"
        assert selected_workloads(target, svc["spec"]["selector"]) == [worker]
        (port,) = svc["spec"]["ports"]
        assert port["port"] == 7300 and container_port(worker, port["targetPort"]) == 7300
        assert ienv[f"ROOST_WORKERS_URL_{service.upper()}"] == f"{SCHEME[target]}://roost-worker-{service}:7300"


def graceful(target, workload, container):
    """SIGTERM lets a process finish what it holds: the grace period covers a request's deadline."""
    timeout_s = int(env_of(target, container).get("ROOST_REQUEST_TIMEOUT_MS", "10000")) / 1000
    assert pod_spec(workload).get("terminationGracePeriodSeconds", 30) > timeout_s, workload["metadata"]["name"]


@pytest.mark.parametrize("target", TARGETS)
def test_clients_and_workers_dial_every_broker_of_a_pool(target):
    ingress = one(target, "Deployment", "roost-ingress")
    (ic,) = pod_spec(ingress)["containers"]
    ienv = env_of(target, ic)
    for service in SERVICES:
        sts = one(target, "StatefulSet", f"roost-broker-{service}")
        replicas = sts["spec"]["replicas"]
        worker = one(target, "Deployment", f"roost-worker-{service}")
        (wc,) = pod_spec(worker)["containers"]
        assert wc.get("command", []) + wc.get("args", []) == ["roost-worker", service], \
            "a worker pod runs a plain roost-worker of its service"
        wenv = env_of(target, wc)
        assert wenv["ROOST_WORKER_URL"].split(",") == broker_urls(service, 7101, replicas, target), \
            f"{service}: workers must dial the worker port of every broker"
        for who, env in (("ingress", ienv), (f"roost-worker-{service}", wenv)):
            for other in SERVICES:
                assert env[f"ROOST_POOL_URL_{other.upper()}"].split(",") == \
                    broker_urls(other, 7100, one(target, "StatefulSet", f"roost-broker-{other}")["spec"]["replicas"],
                                target), \
                    f"{who} must dial every {other} broker"
        assert wc["readinessProbe"]["exec"]["command"] == ["roost-probe", "worker"]
        graceful(target, worker, wc)
    graceful(target, ingress, ic)
    assert ic["lifecycle"]["preStop"], "the ingress leaves the Service's endpoints before it stops accepting"


def test_prod_speaks_mutual_tls_between_every_nng_party():
    """Every pod that speaks nng mounts the Secret roost-nng-tls and points
    ROOST_TLS_* at it, and every URL it listens on or dials is tls+tcp://."""
    target = "overlays/prod"
    config = one(target, "ConfigMap", "roost-config")["data"]
    for key, value in config.items():
        if key.startswith("ROOST_") and key.endswith(("_URL", "LISTEN_URL")) or \
                key.startswith(("ROOST_POOL_URL", "ROOST_WORKERS_URL")):
            assert all(u.startswith("tls+tcp://") for u in value.split(",")), (key, value)
    speakers = [w for w in objects(target) if w["kind"] in WORKLOADS
                and pod_labels(w).get("app.kubernetes.io/component") in ("ingress", "broker", "worker")]
    assert len(speakers) == 1 + 2 * len(SERVICES), [w["metadata"]["name"] for w in speakers]
    for w in speakers:
        (c,) = pod_spec(w)["containers"]  # an init container (roostctl migrate wait) speaks MongoDB only
        env = env_of(target, c)
        volumes = {v["name"]: v for v in pod_spec(w).get("volumes", [])}
        mounts = {m["name"]: m for m in c.get("volumeMounts", [])}
        assert volumes["nng-tls"]["secret"]["secretName"] == "roost-nng-tls", w["metadata"]["name"]
        where = mounts["nng-tls"]["mountPath"]
        assert mounts["nng-tls"].get("readOnly") is True
        assert env["ROOST_TLS_CA_FILE"] == f"{where}/ca.crt"
        assert env["ROOST_TLS_CERT_FILE"] == f"{where}/tls.crt" and env["ROOST_TLS_KEY_FILE"] == f"{where}/tls.key"
        for name in ("ROOST_WORKER_URL", "ROOST_POOL_URL", "ROOST_SERVE_URL", "ROOST_WORKERS_URL"):
            if name in env:
                assert all(u.startswith("tls+tcp://") for u in env[name].split(",")), (w["metadata"]["name"], name)
    for target in ("base", "overlays/dev"):
        assert "tls+tcp://" not in yaml.safe_dump_all(list(rendered(target))), "plain TCP outside production"


@pytest.mark.parametrize("target", TARGETS)
def test_each_pool_admits_only_roost_callers(target):
    """A NetworkPolicy per pool: its brokers' client port only from the
    ingress, Roost's workers and pods labelled as internal callers; its
    worker port only from that pool's own workers; its metrics port only
    from namespaces labelled as scraping metrics."""
    policies = {p["metadata"]["name"]: p for p in objects(target, "NetworkPolicy")}
    for service in SERVICES:
        p = policies[f"roost-broker-{service}"]["spec"]
        assert p["policyTypes"] == ["Ingress"]
        assert [w["metadata"]["name"] for w in selected_workloads(target, p["podSelector"])] == \
            [f"roost-broker-{service}"]
        by_port = {rule["ports"][0]["port"]: rule["from"] for rule in p["ingress"]}
        assert set(by_port) == {"clients", "workers", "metrics"}
        (scraper,) = by_port["metrics"]
        assert scraper == {"namespaceSelector": {"matchLabels": {"roost.dev/scrapes-metrics": "true"}}}
        admitted = set()
        for peer in by_port["clients"]:
            admitted |= {w["metadata"]["name"] for w in selected_workloads(target, peer["podSelector"])}
        assert admitted == {"roost-ingress"} | {f"roost-worker-{s}" for s in SERVICES}, admitted
        assert any(e["key"] == "roost.dev/internal-caller" for peer in by_port["clients"]
                   for e in peer["podSelector"].get("matchExpressions", []))
        (workers_peer,) = by_port["workers"]
        assert [w["metadata"]["name"] for w in selected_workloads(target, workers_peer["podSelector"])] == \
            [f"roost-worker-{service}"]
        # The workers listen for the ingress (direct) and for Prometheus only.
        w = policies[f"roost-worker-{service}"]["spec"]
        assert [x["metadata"]["name"] for x in selected_workloads(target, w["podSelector"])] == \
            [f"roost-worker-{service}"]
        by_port = {rule["ports"][0]["port"]: rule["from"] for rule in w["ingress"]}
        assert set(by_port) == {"direct", "metrics"} and all(len(r["ports"]) == 1 for r in w["ingress"])
        assert by_port["metrics"] == [{"namespaceSelector": {"matchLabels": {"roost.dev/scrapes-metrics": "true"}}}]
        (direct_peer,) = by_port["direct"]
        assert [x["metadata"]["name"] for x in selected_workloads(target, direct_peer["podSelector"])] == \
            ["roost-ingress"]


@pytest.mark.parametrize("target", TARGETS)
def test_migrations_run_before_the_workers_of_a_release(target):
    """The roost-migrate Job runs `roostctl migrate up`; each service's
    workers wait for their own database in an init container, reading the
    same database (URI and prefix) as the worker."""
    def db_env(c):
        return {e["name"]: e.get("valueFrom") for e in c["env"] if e["name"] in ("ROOST_MONGODB_URI", "ROOST_DB_PREFIX")}

    job = one(target, "Job", "roost-migrate")
    (c,) = pod_spec(job)["containers"]
    assert c["image"].split("/")[-1].startswith("roostctl:")
    assert c["command"] + c["args"] == ["roostctl", "migrate", "up"]
    assert pod_spec(job)["restartPolicy"] == "OnFailure" and job["spec"]["backoffLimit"] >= 3
    for service in SERVICES:
        worker = one(target, "Deployment", f"roost-worker-{service}")
        (init,) = pod_spec(worker)["initContainers"]
        assert init["command"] + init["args"] == ["roostctl", "migrate", "wait", service]
        assert init["image"].split("/")[-1].split(":")[0] == "roostctl"
        (wc,) = pod_spec(worker)["containers"]
        assert db_env(init) == db_env(wc) and set(db_env(wc)) == {"ROOST_MONGODB_URI", "ROOST_DB_PREFIX"}
        assert db_env(c) == db_env(wc)
    # The in-cluster MongoDB (dev) admits the Job.
    for policy in objects(target, "NetworkPolicy", "roost-mongo"):
        (rule,) = policy["spec"]["ingress"]
        (peer,) = rule["from"]
        allowed = {v for e in peer["podSelector"]["matchExpressions"] if e["key"] == "app.kubernetes.io/component"
                   for v in e["values"]}
        assert {"worker", "migrate"} <= allowed


@pytest.mark.parametrize("target", TARGETS)
def test_each_service_scales_its_own_workers(target):
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in objects(target, "HorizontalPodAutoscaler")}
    assert set(hpas) == {f"roost-worker-{s}" for s in SERVICES}
    for name, hpa in hpas.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        ref = hpa["spec"]["scaleTargetRef"]
        assert (ref["apiVersion"], ref["kind"]) == ("apps/v1", "Deployment")
        worker = one(target, "Deployment", name)
        assert "replicas" not in worker["spec"], "the HPA owns the worker count; an apply must not reset it"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # The pool's queue depth and requests in flight, per worker, for its
        # own service (the Prometheus adapter's external metrics), and CPU.
        service = name[len("roost-worker-"):]
        external = {m["external"]["metric"]["name"]: m["external"] for m in hpa["spec"]["metrics"]
                    if m["type"] == "External"}
        assert set(external) == {"roost_ingress_queued_requests", "roost_worker_busy_contexts"}, external
        for m in external.values():
            assert m["metric"]["selector"] == {"matchLabels": {"service": service}}
            assert m["target"]["type"] == "AverageValue" and float(m["target"]["averageValue"]) > 0
        (metric,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # Utilization is a share of the request: every container needs one.
        assert all("cpu" in c["resources"]["requests"] for c in containers(worker))


@pytest.mark.parametrize("target", TARGETS)
def test_pdbs_select_their_pods(target):
    pdbs = {p["metadata"]["name"]: p for p in objects(target, "PodDisruptionBudget")}
    for service in SERVICES:
        assert {f"roost-worker-{service}", f"roost-broker-{service}"} <= set(pdbs), service
    for name, pdb in pdbs.items():
        matched = selected_workloads(target, pdb["spec"]["selector"])
        assert len(matched) == 1 and matched[0]["metadata"]["name"] == name, \
            f"PDB {name} selects {[m['metadata']['name'] for m in matched]}"


@pytest.mark.parametrize("target", TARGETS)
def test_services_select_pods_and_ports(target):
    for svc in objects(target, "Service"):
        matched = selected_workloads(target, svc["spec"]["selector"])
        assert matched, f"Service {svc['metadata']['name']} selects no pods"
        for p in svc["spec"]["ports"]:
            for w in matched:
                container_port(w, p.get("targetPort", p["port"]))


@pytest.mark.parametrize("target", TARGETS)
def test_env_references_exist(target):
    configmaps = {o["metadata"]["name"]: o.get("data", {}) for o in objects(target, "ConfigMap")}
    secrets = {o["metadata"]["name"]: secret_data(o) for o in objects(target, "Secret")}
    for w in objects(target):
        if w["kind"] not in WORKLOADS:
            continue
        for c in containers(w):
            what = f"{w['metadata']['name']}/{c['name']}"
            for src in c.get("envFrom", []):
                for key, pool in (("configMapRef", configmaps), ("secretRef", secrets)):
                    if key in src and not src[key].get("optional"):
                        assert src[key]["name"] in pool, f"{what}: no {key} {src[key]['name']}"
            for e in c.get("env", []):
                for key, pool in (("configMapKeyRef", configmaps), ("secretKeyRef", secrets)):
                    ref = e.get("valueFrom", {}).get(key)
                    if ref and not ref.get("optional"):
                        assert ref["name"] in pool, f"{what}: {e['name']} reads missing {ref['name']}"
                        assert ref["key"] in pool[ref["name"]], \
                            f"{what}: {e['name']} reads missing key {ref['name']}.{ref['key']}"
            if c["image"].split("/")[-1].split(":")[0] in IMAGE_TARGET:
                unknown = [n for n in env_of(target, c) if not known_roost_var(n)]
                assert not unknown, f"{what}: no Roost program reads {unknown}"


@pytest.mark.parametrize("target", ["base", "overlays/dev"])
def test_mongodb_replica_set(target):
    sts = one(target, "StatefulSet", "roost-mongo")
    (c,) = pod_spec(sts)["containers"]
    assert c["image"] == "mongo:7"
    args = c.get("args", [])
    rs = args[args.index("--replSet") + 1]
    headless = one(target, "Service", sts["spec"]["serviceName"])
    assert headless["spec"].get("clusterIP") == "None", "the StatefulSet's Service must be headless"
    assert sts["spec"]["volumeClaimTemplates"][0]["metadata"]["name"] in \
        [m["name"] for m in c["volumeMounts"] if m["mountPath"] == "/data/db"]
    members = [f"{sts['metadata']['name']}-{i}.{headless['metadata']['name']}:{container_port(sts, 'mongodb')}"
               for i in range(sts["spec"]["replicas"])]
    job = one(target, "Job", "roost-mongo-rs-init")
    job_env = env_of(target, pod_spec(job)["containers"][0])
    assert job_env["RS_MEMBERS"].split(",") == members, "rs.initiate must name every member"
    assert job_env["RS_NAME"] == rs
    assert "rs.initiate" in " ".join(pod_spec(job)["containers"][0]["command"])
    uri = secret_data(one(target, "Secret", "roost-secrets"))["ROOST_MONGODB_URI"]
    parts = urlsplit(uri)
    assert parts.scheme == "mongodb"
    assert set(parts.netloc.split(",")) <= set(members), f"{uri} names hosts that are not members"
    assert parse_qs(parts.query)["replicaSet"] == [rs]


def test_prod_uses_an_external_mongodb():
    # The one Job of prod migrates (roost-migrate), none initiates an in-cluster replica set.
    assert [j["metadata"]["name"] for j in objects("overlays/prod", "Job")] == ["roost-migrate"]
    assert all(pod_labels(o).get("app.kubernetes.io/component") == "broker" for o in objects("overlays/prod", "StatefulSet")), \
        "the only StatefulSets of prod are the brokers: no in-cluster MongoDB"
    # Nothing left refers to the in-cluster database that prod leaves out.
    text = yaml.safe_dump_all(list(rendered("overlays/prod")))
    assert "roost-mongo" not in text
    secret = secret_data(one("overlays/prod", "Secret", "roost-secrets"))
    assert urlsplit(secret["ROOST_MONGODB_URI"]).scheme in ("mongodb", "mongodb+srv")
    assert one("overlays/prod", "ConfigMap", "roost-config")["data"]["ROOST_ENV"] == "production"
    # The committed token key is a placeholder the programs refuse in production
    # (fewer than 32 characters), so no real key is ever committed here.
    assert len(secret["ROOST_JWT_SECRET"]) < 32


def test_prod_is_bigger_than_dev():
    def hpa(t):
        return objects(t, "HorizontalPodAutoscaler")[0]["spec"]

    def replicas(t):
        return one(t, "Deployment", "roost-ingress")["spec"]["replicas"]

    assert replicas("overlays/prod") > replicas("overlays/dev")
    assert hpa("overlays/prod")["maxReplicas"] > hpa("overlays/dev")["maxReplicas"]
    assert hpa("overlays/prod")["minReplicas"] > hpa("overlays/dev")["minReplicas"]


# --- Dockerfile -----------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def dockerfile():
    """Stages of deploy/Dockerfile: name -> {base, instructions: [(KEYWORD, text)]}."""
    lines, current = [], ""
    for raw in (ROOT / "deploy/Dockerfile").read_text().splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current:
            lines.append(current)
        current = ""
    args, stages, stage = {}, {}, None
    for line in lines:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and stage is None:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            m = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.I)
            base = re.sub(r"\$\{?(\w+)\}?", lambda v: args.get(v.group(1), v.group(0)), m.group(1))
            stage = {"base": base, "instructions": []}
            stages[m.group(2) or f"stage{len(stages)}"] = stage
        else:
            assert stage is not None, f"{keyword} before any FROM"
            stage["instructions"].append((keyword, rest))
    return stages


def stage_chain(name):
    """A stage and the stages it is built FROM, nearest first."""
    stages, chain = dockerfile(), []
    while name in stages:
        chain.append(stages[name])
        name = stages[name]["base"]
    return chain


def instructions(target, keyword):
    return [rest for stage in stage_chain(target) for k, rest in stage["instructions"] if k == keyword]


def apt_packages(target):
    packages = set()
    for run_cmd in instructions(target, "RUN"):
        for m in re.finditer(r"apt-get\s+install\s+([^&;|]*)", run_cmd):
            packages.update(t for t in m.group(1).split() if not t.startswith("-"))
    return packages


def copies_from_build(target):
    """(source, destination) of the COPY --from=build of the target itself."""
    out = []
    for k, rest in dockerfile()[target]["instructions"]:
        if k == "COPY" and rest.startswith("--from=build "):
            src, dst = rest.split()[1:3]
            out.append((src, dst))
    return out


def target_binary(target):
    (src, _), = copies_from_build(target)
    return os.path.basename(src)


def image_programs(target):
    programs = {target_binary(target)}
    for rest in instructions(target, "COPY"):
        if not rest.startswith("--from="):
            programs.add(os.path.basename(rest.split()[-1]))
    return programs


@functools.lru_cache(maxsize=None)
def cmake_executables():
    """add_executable targets of */CMakeLists.txt: name -> directory."""
    out = {}
    for lists in ROOT.glob("*/CMakeLists.txt"):
        if lists.parent.name.startswith("build"):
            continue
        for name in re.findall(r"add_executable\(\s*([^\s)]+)", lists.read_text()):
            if "$" not in name:
                out[name] = lists.parent.name
    return out


def exec_form(text):
    value = json.loads(text)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), text
    return value


def test_dockerfile_targets():
    stages = dockerfile()
    assert {"build", "ingress", "worker", "roostctl"} <= set(stages)
    for name in ("ingress", "worker", "roostctl"):
        chain = stage_chain(name)
        assert chain[-1]["base"] == "debian:12-slim", f"{name} is not built on debian:12-slim"
        users = instructions(name, "USER")
        assert users, f"{name} runs as root"
        uid = users[0].split(":")[0]
        assert uid.isdigit() and int(uid) != 0, f"{name}: USER {uid} (numeric, so runAsNonRoot can check it)"
        (entrypoint,) = instructions(name, "ENTRYPOINT")
        assert exec_form(entrypoint) == [f"{target_binary(name)}"], f"{name}: ENTRYPOINT {entrypoint}"
        # Runtime images hold runtime libraries only.
        devel = {p for p in apt_packages(name) if p.endswith("-dev") or p in ("build-essential", "cmake", "gcc")}
        assert not devel, f"{name} installs build tools {devel}"
    assert stage_chain("build")[-1]["base"] == "debian:12-slim"
    assert "8080" in " ".join(instructions("ingress", "EXPOSE")).split()
    assert {"7100", "7101"} <= set(" ".join(instructions("worker", "EXPOSE")).split())
    health = instructions("ingress", "HEALTHCHECK")
    assert health and "/healthz" in health[-1]
    assert instructions("worker", "HEALTHCHECK")[-1] != "NONE"


def test_dockerfile_copies_only_what_cmake_builds():
    executables = cmake_executables()
    assert {"roost-ingress", "roost-worker", "roostctl"} <= set(executables)
    build = dockerfile()["build"]["instructions"]
    workdir = [rest for k, rest in build if k == "WORKDIR"][-1]
    build_dir = re.search(r"cmake\s.*?-B\s*(\S+)", " ".join(rest for k, rest in build if k == "RUN")).group(1)
    for target in ("ingress", "worker", "roostctl"):
        copies = copies_from_build(target)
        assert len(copies) == 1, f"{target} copies {copies}"
        src, dst = copies[0]
        name = os.path.basename(src)
        assert name in executables, f"{target} copies {name}, which no add_executable builds"
        assert src == f"{workdir}/{build_dir}/{executables[name]}/{name}", f"{src}: not where CMake puts {name}"
        assert dst.startswith("/usr/local/bin")


def dockerignored(path):
    """Whether .dockerignore leaves `path` (relative, '/'-separated) out of the build context."""
    ignored = False
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        rule = raw.strip()
        if not rule or rule.startswith("#"):
            continue
        negate = rule.startswith("!")
        pattern = rule.lstrip("!").strip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        if any(fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, pattern.replace("**/", "")) for p in prefixes):
            ignored = not negate
    return ignored


def test_dockerignore_and_context():
    for path in (".git/config", "build/build.ninja", "build-asan/x", "var/db/x", ".venv/bin/python"):
        assert dockerignored(path), f".dockerignore lets {path} into the build context"
    for path in ("CMakeLists.txt", "cmake/embed.cmake", "openapi.json", "shared/config.c",
                 "ingress/main.c", "workers/runtime/main.c", "tools/roostctl.c", "deploy/roost-probe"):
        assert not dockerignored(path), f".dockerignore leaves out {path}, which the build needs"
    # Files the Dockerfile copies from the context exist and are sent.
    for stage in dockerfile().values():
        for k, rest in stage["instructions"]:
            if k == "COPY" and not rest.startswith("--from="):
                for src in rest.split()[:-1]:
                    if src not in (".", "./"):
                        assert (ROOT / src).exists() and not dockerignored(src), src


def elf_needed(binary):
    r = run(["readelf", "-d", str(binary)])
    assert r.returncode == 0, f"readelf -d {binary}: {r.stderr} (readelf comes with binutils)"
    return re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", r.stdout)


def debian_packages_of(binary):
    """The Debian packages owning the shared libraries `binary` links directly."""
    found = dict(re.findall(r"^\s*(\S+) => (/\S+)", run(["ldd", str(binary)]).stdout, re.M))
    paths = {}
    for soname in elf_needed(binary):
        assert soname in found, f"ldd {binary} does not find {soname}"
        path = found[soname]
        # With merged /usr, dpkg may know /usr/lib/... for a library ldd shows in /lib/...
        paths[soname] = {path, os.path.realpath(path), "/usr" + path if path.startswith("/lib") else path}
    owners = {}
    q = run(["dpkg", "-S", *sorted(set().union(*paths.values()))])  # one query: dpkg -S is slow
    for line in q.stdout.splitlines():
        package, _, path = line.partition(": ")
        owners[path.strip()] = package.split(":")[0].strip()
    packages = set()
    for soname, candidates in paths.items():
        owner = [owners[c] for c in candidates if c in owners]
        assert owner, f"no Debian package owns {soname} ({sorted(candidates)})"
        packages.add(owner[0])
    return packages


@pytest.mark.parametrize("target", ["ingress", "worker", "roostctl"])
def test_runtime_images_have_the_libraries_their_binary_links(target):
    """The packages owning each NEEDED library of the built binary are installed by the target."""
    for tool_name in ("readelf", "ldd", "dpkg"):
        if not shutil.which(tool_name):
            pytest.fail(f"{tool_name} is needed to read the binaries' libraries", pytrace=False)
    name = target_binary(target)
    binary = BUILD / cmake_executables()[name] / name
    if not binary.is_file():
        pytest.fail(f"{binary} is not built: run `make build` (or set ROOST_BUILD_DIR)", pytrace=False)
    needed = debian_packages_of(binary)
    needed = {p for p in needed if not re.match(r"lib(a|ub|t|l)san\d", p)}  # a sanitizer build's runtime
    missing = needed - BASE_IMAGE_PACKAGES - apt_packages(target)
    assert not missing, f"the {target} image lacks {sorted(missing)}, which {name} links"


# --- compose ----------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def compose():
    r = run([tool("roost-compose-check"), str(ROOT / "deploy/compose.yaml")])
    assert r.returncode == 0, f"deploy/compose.yaml is not a valid Compose file:\n{r.stderr}"
    return json.loads(r.stdout)


def test_compose_services():
    services = compose()["services"]
    expected = {"mongo", "ingress"} | {f"broker-{s}-{b}" for s in SERVICES for b in (0, 1)} | \
        {f"worker-{s}" for s in SERVICES}
    assert expected <= set(services)
    assert services["mongo"]["image"] == "mongo:7"
    for s in SERVICES:
        for b in (0, 1):
            assert services[f"broker-{s}-{b}"]["command"] == ["--broker", s]
        assert services[f"worker-{s}"]["command"] == [s]
    # Built from deploy/Dockerfile's targets, from the repository root.
    for name, svc in services.items():
        if "build" in svc:
            assert Path(svc["build"]["context"]).resolve() == ROOT
            assert Path(svc["build"]["context"], svc["build"]["dockerfile"]).resolve() == ROOT / "deploy/Dockerfile"
            assert svc["build"]["target"] in dockerfile(), f"{name}: no target {svc['build']['target']}"
        image = svc["image"].split(":")[0]
        if image in IMAGE_TARGET:
            assert IMAGE_TARGET[image] in dockerfile()
            if "build" in svc:
                assert svc["build"]["target"] == IMAGE_TARGET[image], name
        if name != "mongo" and image in IMAGE_TARGET and name not in ("roostctl", "migrate"):
            assert svc.get("restart") == "unless-stopped", f"{name} must come back when it dies"
    assert services["migrate"]["restart"] == "on-failure"  # a one-shot, tried again until done


def test_compose_wiring():
    services = compose()["services"]
    ingress = services["ingress"]
    ienv = ingress["environment"]
    # The ingress publishes 8080, where it listens, on all of the container's addresses.
    (port,) = ingress["ports"]
    assert (port["published"], port["target"]) == ("8080", int(ienv["ROOST_HTTP_PORT"]))
    assert ienv["ROOST_HTTP_HOST"] == "0.0.0.0"
    for s in SERVICES:
        brokers = [f"broker-{s}-{b}" for b in (0, 1)]
        for b in brokers:
            benv = services[b]["environment"]
            assert tcp_url(benv["ROOST_POOL_URL"]) == ("0.0.0.0", 7100)
            assert tcp_url(benv["ROOST_WORKER_URL"]) == ("0.0.0.0", 7101)
            assert {"7100", "7101"} <= set(services[b].get("expose", []))
        assert [tcp_url(u) for u in services[f"worker-{s}"]["environment"]["ROOST_WORKER_URL"].split(",")] == \
            [(b, 7101) for b in brokers], f"worker-{s} must dial every broker of its pool"
        for name, svc in services.items():
            env = svc.get("environment") or {}
            key = f"ROOST_POOL_URL_{s.upper()}"
            if key in env:
                assert [tcp_url(u) for u in env[key].split(",")] == [(b, 7100) for b in brokers], (name, key)
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if "ROOST_MONGODB_URI" in env:
            hosts = urlsplit(env["ROOST_MONGODB_URI"]).netloc.split(",")
            assert {h.split(":")[0] for h in hosts} == {"mongo"}, name
        unknown = [n for n in env if n.startswith("ROOST_") and not known_roost_var(n)]
        assert not unknown, f"{name}: no Roost program reads {unknown}"
    assert all(f"ROOST_POOL_URL_{s.upper()}" in ienv for s in SERVICES)


def test_compose_start_order_is_health_gated():
    services = compose()["services"]
    # `roostctl migrate up`, once, between the database and the workers.
    assert services["migrate"]["command"] == ["migrate", "up"]
    assert services["migrate"]["build"]["target"] == "roostctl"
    assert services["migrate"]["depends_on"]["mongo"]["condition"] == "service_healthy"
    for s in SERVICES:
        assert services[f"worker-{s}"]["depends_on"]["mongo"]["condition"] == "service_healthy"
        assert services[f"worker-{s}"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        for b in (0, 1):
            assert services["ingress"]["depends_on"][f"broker-{s}-{b}"]["condition"] == "service_healthy"
    for name, svc in services.items():
        for dep, how in (svc.get("depends_on") or {}).items():
            if how["condition"] == "service_healthy":
                test = (services[dep].get("healthcheck") or {}).get("test")
                assert test and test[0] in ("CMD", "CMD-SHELL"), f"{name} waits for {dep}, which has no healthcheck"
                if test[0] == "CMD" and services[dep]["image"].split(":")[0] in IMAGE_TARGET:
                    target = IMAGE_TARGET[services[dep]["image"].split(":")[0]]
                    assert test[1] in image_programs(target), f"{dep}'s healthcheck runs {test[1]}"


# --- deploy/roost-probe -----------------------------------------------------------

PROBE = ROOT / "deploy/roost-probe"


def probe(*args, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith("ROOST_")}
    full.update({k: str(v) for k, v in env.items()})
    return subprocess.run([str(PROBE), *args], env=full, capture_output=True, text=True, timeout=20).returncode


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/healthz" else 503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_probe_http():
    assert os.access(PROBE, os.X_OK), "deploy/roost-probe must be executable"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        assert probe("http", "/healthz", ROOST_HTTP_PORT=port, ROOST_HTTP_HOST="0.0.0.0") == 0
        assert probe("http", "/readyz", ROOST_HTTP_PORT=port) != 0
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert probe("http", "/healthz", ROOST_HTTP_PORT=port) != 0  # nothing listens any more


def test_probe_listening_and_dialing():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"tcp://127.0.0.1:{port}"
        assert probe("listening", url) == 0
        assert probe("dialing", url) != 0  # listening is not a connection
        with socket.create_connection(("127.0.0.1", port)):
            peer, _ = listener.accept()
            with peer:
                assert probe("dialing", url) == 0
                assert probe("dialing", ROOST_WORKER_URL=url) == 0
        closed = free_port()
        assert probe("listening", f"tcp://127.0.0.1:{closed}") != 0
        assert probe("dialing", f"tcp://roost-pool:{closed}") != 0
    assert probe("listening", "tcp://no-port") != 0
    assert probe("nonsense") == 2


def test_probe_worker_mode_follows_the_command_line():
    """`roost-probe worker` checks the broker's port with --pool, the connection without."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        url = f"tcp://0.0.0.0:{port}"
        sleeper = [sys.executable, "-c", "import time; time.sleep(30)"]
        broker = subprocess.Popen(sleeper + ["--pool", "1"])
        worker = subprocess.Popen(sleeper)
        try:
            assert probe("worker", ROOST_PROBE_PID=broker.pid, ROOST_POOL_URL=url) == 0
            assert probe("worker", ROOST_PROBE_PID=worker.pid, ROOST_WORKER_URL=url) != 0
            with socket.create_connection(("127.0.0.1", port)):
                peer, _ = listener.accept()
                with peer:
                    assert probe("worker", ROOST_PROBE_PID=worker.pid, ROOST_WORKER_URL=url) == 0
        finally:
            for p in (broker, worker):
                p.kill()
                p.wait(5)
