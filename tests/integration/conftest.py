import pytest

from roost_api import install_strict_json
from roost_stack import running

# Every body every test reads is checked: strict UTF-8 JSON where JSON is said.
install_strict_json()


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
