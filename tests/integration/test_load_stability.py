"""Under load, across several h2o loops, the ingress keeps answering.

Not a speed test (bench/ measures speed): seconds of wrk against routes
that go through nng. When the loops' sockets were made on the main thread
(sharing its unlocked buffer pool), 8 s of /readyz at 4 connections
crashed the ingress every time.
"""
import re
import shutil
import subprocess

import pytest

from roost_stack import running


@pytest.fixture(scope="module")
def loaded():
    assert shutil.which("wrk"), "wrk is missing: run scripts/setup.sh"
    with running(workers=2, env={"ROOST_HTTP_THREADS": "2"}) as s:
        yield s


@pytest.mark.parametrize("path,connections,seconds", [("/readyz", 4, 8), ("/ping", 64, 4),
                                                     ("/api/v1/users?per_page=5", 32, 3)])
def test_ingress_survives_a_burst_through_nng(loaded, path, connections, seconds):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", loaded.url(path)],
                         capture_output=True, text=True, timeout=60).stdout
    assert loaded.procs["ingress"].poll() is None, "the ingress died under load:\n" + loaded.log("ingress")[-2000:]
    requests_done = int(re.search(r"(\d+) requests in", out).group(1))
    assert requests_done > 100, out
    assert "Non-2xx" not in out and "Socket errors" not in out, out
