"""The examples build against an *installed* Roost and talk to a running one:
`cmake --install` into a temporary prefix, then examples/c-service with
find_package(Roost) and with pkg-config, and examples/python/roost_call.py,
each checked against what roostctl call answers."""
import json
import os
import subprocess
import sys

import pytest

from roost_api import call, person, send
from roost_stack import BUILD, ROOT, SANITIZED

EXAMPLES = os.path.join(ROOT, "examples")
# The sanitized build's library needs its runtime in whatever links it.
SAN_FLAGS = ["-fsanitize=address,undefined"] if SANITIZED else []


def run(cmd, env=None, timeout=300):
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert r.returncode == 0, f"{' '.join(cmd)}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    p = tmp_path_factory.mktemp("prefix")
    run(["cmake", "--install", BUILD, "--prefix", str(p)])
    return p


@pytest.fixture(scope="module")
def cities(stack):
    owner = person(stack)
    for city in ("Faro", "Faro", "Évora"):
        body = {"name": f"Example in {city}", "type": "house", "city": city, "address": "Rua 1",
                "rooms": [{"name": "Hall", "kind": "living", "area_m2": 10}]}
        assert send(stack, "POST", "/api/v1/properties", body, token=owner["token"]).status_code == 201
    code, reply = call(stack, "properties.cities")
    assert code == 0
    return {c["city"]: c["count"] for c in reply["body"]["items"]}


def pool_url(stack):
    return stack.env()["ROOST_POOL_URL_PROPERTIES"] if "ROOST_POOL_URL_PROPERTIES" in stack.env() \
        else stack.env()["ROOST_POOL_URL"]


def report_of(output):
    return {line.split("\t")[1]: int(line.split("\t")[0]) for line in output.splitlines()}


def test_the_install_has_the_library_its_header_and_both_package_files(prefix):
    for f in ("include/roost/roost.h", "lib/libroost.a", "lib/pkgconfig/roost.pc", "lib/cmake/Roost/RoostConfig.cmake",
              "bin/roost-ingress", "bin/roost-worker", "bin/roostctl", "share/roost/web/index.html"):
        assert (prefix / f).exists(), f
    assert any(p.name.startswith("libroost.so.") for p in (prefix / "lib").iterdir())
    exported = run(["nm", "-D", "--defined-only", str(prefix / "lib" / "libroost.so")]).stdout
    assert sorted(l.split()[-1] for l in exported.splitlines() if " T " in l) == \
        ["roost_client_call", "roost_client_close", "roost_client_open"]


def test_a_c_service_built_with_find_package_roost(stack, prefix, cities, tmp_path):
    build = tmp_path / "city"
    run(["cmake", "-S", os.path.join(EXAMPLES, "c-service"), "-B", str(build), "-G", "Ninja",
         f"-DCMAKE_PREFIX_PATH={prefix}", f"-DCMAKE_C_FLAGS={' '.join(SAN_FLAGS)}",
         f"-DCMAKE_EXE_LINKER_FLAGS={' '.join(SAN_FLAGS)}"])
    run(["cmake", "--build", str(build)])
    r = run([str(build / "city-report"), pool_url(stack)], env=stack.env())
    assert report_of(r.stdout) == cities
    assert "Example in Faro" in r.stdout


def test_the_same_service_built_with_pkg_config(stack, prefix, cities, tmp_path):
    env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / "lib" / "pkgconfig"))
    flags = run(["pkg-config", "--cflags", "--libs", "roost"], env=env).stdout.split()
    exe = tmp_path / "city-report"
    run(["cc", "-o", str(exe), os.path.join(EXAMPLES, "c-service", "main.c"), *flags, *SAN_FLAGS], env=env)
    r = run([str(exe), pool_url(stack)], env=stack.env() | {"LD_LIBRARY_PATH": str(prefix / "lib")})
    assert report_of(r.stdout) == cities


def test_python_speaks_the_protocol_with_pynng_and_bson(stack, cities):
    r = run([sys.executable, os.path.join(EXAMPLES, "python", "roost_call.py"), pool_url(stack), "properties.cities"])
    reply = json.loads(r.stdout)
    assert reply["status"] == 200 and {c["city"]: c["count"] for c in reply["body"]["items"]} == cities
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, "python", "roost_call.py"), pool_url(stack),
                        "properties.update", json.dumps({"params": {"id": "1"}, "body": {"name": "x"}})],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and json.loads(r.stdout)["status"] == 401
