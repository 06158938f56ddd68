import pytest

from roost_stack import running


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
