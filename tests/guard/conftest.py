"""Fixtures of the proxy tests: a stub upstream, and the proxy in front of it."""

import pytest

from tests.guard.proxy_helpers import UPSTREAM_KEY, UPSTREAM_KEY_ENV, proxy_config, running_proxy
from tests.guard.upstream_stub import StubState, serving, stub_app


@pytest.fixture
def stub():
    state = StubState()
    with serving(stub_app(state)) as url:
        yield state, url + "/v1"


@pytest.fixture
def proxy(stub, tfidf_guard, tmp_path, monkeypatch):
    monkeypatch.setenv(UPSTREAM_KEY_ENV, UPSTREAM_KEY)
    state, upstream = stub
    with running_proxy(proxy_config(upstream, tmp_path / "audit.jsonl"), tfidf_guard) as url:
        yield url, state


@pytest.fixture(scope="session")
def redis_server():
    """A private redis-server for the session (skips if it is not installed)."""
    from tests.guard.servers import RedisServer

    server = RedisServer()
    try:
        server.start()
    except RuntimeError as ex:  # a restart later in the session fails the test that asks
        pytest.skip(str(ex))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_server():
    """A private PostgreSQL cluster for the session (skips if PostgreSQL is not installed)."""
    from tests.guard.servers import PostgresServer

    server = PostgresServer()
    try:
        try:
            server.start()
        except RuntimeError as ex:
            pytest.skip(str(ex))
        yield server
    finally:
        server.remove()


@pytest.fixture
def redis_url(redis_server):
    """The private Redis, emptied for each test."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def audit_db(postgres_server):
    """The private PostgreSQL's URL, its audit tables dropped for each test."""
    postgres_server.reset()
    return postgres_server.url
