"""The ops fuzz harness's seeds and regression inputs, replayed once
against a real database (the other harnesses replay in ctest, fuzz/*):
every op, given each committed input, answers without crashing."""
import os
import subprocess

from roost_stack import BUILD, ROOT


def test_every_ops_seed_and_regression_replays(stack):
    binary = os.path.join(BUILD, "tests", "fuzz", "ops_fuzz_replay")
    env = stack.env()
    env.update({"ROOST_POOL_URL": "tcp://127.0.0.1:1", "ROOST_REQUEST_TIMEOUT_MS": "200", "ROOST_LOG_LEVEL": "error",
                "ROOST_DB_PREFIX": stack.prefix + "fuzz_"})
    r = subprocess.run([binary, os.path.join(ROOT, "tests", "fuzz", "corpus", "ops"),
                        os.path.join(ROOT, "tests", "fuzz", "regressions", "ops")],
                       capture_output=True, text=True, env=env, timeout=240)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-4000:]
    assert "replayed" in r.stdout
