"""The suite against a MongoDB of the user's (ROOST_TEST_MONGODB_URI).

Here the "user's MongoDB" is a roost-embedded-db this test starts apart;
pytest runs a few files against it in a child process. Tests that need the
embedded server's own process skip with the reason printed in the summary,
the others pass, and every database a stack made there is dropped."""
import os
import signal
import subprocess
import sys

import pymongo

from roost_stack import BUILD, NEEDS_EMBEDDED_DB, ROOT, TOOLS, Stack, free_port, port_open, wait_until


def test_the_suite_runs_against_a_given_mongodb_and_skips_what_needs_its_own():
    outside = Stack(workers=1)  # only for its directory and its database process
    try:
        port = free_port()
        outside._spawn("db", [os.path.join(TOOLS, "roost-embedded-db"), "-listen-addr", f"127.0.0.1:{port}",
                              "-data-dir", os.path.join(outside.dir, "users-mongodb")], env=dict(os.environ))
        wait_until(lambda: port_open(port), 30, "the user's database")
        uri = f"mongodb://127.0.0.1:{port}"
        env = dict(os.environ, ROOST_TEST_MONGODB_URI=uri, ROOST_BUILD_DIR=BUILD)
        tests = os.path.join(ROOT, "tests", "integration")
        child = subprocess.Popen([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                                  os.path.join(tests, "test_bookings.py"),
                                  "-k", "identical or bad_stays or given_back"],
                                 cwd=tests, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            out, _ = child.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            child.send_signal(signal.SIGINT)  # pytest runs its teardown: the stacks it started stop
            out, _ = child.communicate(timeout=60)
            raise AssertionError("the suite against the given MongoDB took over 300 s:\n" + out[-3000:])
        assert child.returncode == 0, out[-3000:]
        assert "1 skipped" in out and NEEDS_EMBEDDED_DB[:40] in out, out[-3000:]
        assert " passed" in out and "failed" not in out, out[-3000:]
        client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        try:
            left = [n for n in client.list_database_names() if n not in ("admin", "local", "config")]
        finally:
            client.close()
        assert left == [], f"databases left on the user's MongoDB: {left}"
    finally:
        outside.stop()
