import pytest

from roost_api import install_strict_json
from roost_stack import Stack, running

# Every body every test reads is checked: strict UTF-8 JSON where JSON is said.
install_strict_json()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed test's report ends with its running stacks' process logs: a
    failure seen once on a busy CI machine must say what the servers saw."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for s in list(Stack.live):
            report.sections.append((f"process logs of {s.dir}", s.log_tails()))


@pytest.fixture(scope="session")
def stack():
    """One running Roost (database, pool of 2 workers, ingress) for the session."""
    with running(workers=2) as s:
        yield s


@pytest.fixture(scope="session")
def db(stack):
    client = stack.mongo()
    yield client
    client.close()
