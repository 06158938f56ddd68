import pytest

from roost_stack import Stack


@pytest.fixture(scope="session")
def stack():
    """One running Roost (database, pool of 2 workers, ingress) for the session."""
    s = Stack(workers=2)
    try:
        s.start()
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def db(stack):
    client = stack.mongo()
    yield client
    client.close()
