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
