import socket
from collections.abc import Iterator
from typing import Any

import pytest


class NetworkBlocked(OSError):
    pass


@pytest.fixture(autouse=True)
def user_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A config directory of each test's own: signing keys and the trust store never touch the
    user's real ones."""
    home = tmp_path_factory.mktemp("config")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    return home / "redline"


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make every Internet socket connection raise, as on a machine with no network."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise NetworkBlocked(f"network disabled in this test: connect to {address!r}")
        real_connect(self, address)

    def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        raise NetworkBlocked(f"network disabled in this test: connect to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket, "create_connection", guarded_create_connection)
    yield


@pytest.fixture(scope="session")
def engine():  # type: ignore[no-untyped-def]
    from redline.models import engine_for

    return engine_for("smollm2")


@pytest.fixture(scope="session")
def tiny():  # type: ignore[no-untyped-def]
    """The tiny test constitution (tests/guard/tiny.py)."""
    from redline._yaml import parse_yaml_model
    from redline.guard import Constitution
    from tests.guard.tiny import TINY

    return parse_yaml_model(TINY, Constitution, name="tiny.yaml")


@pytest.fixture(scope="session")
def tfidf_guard(tiny):  # type: ignore[no-untyped-def]
    """A tfidf guard trained on the tiny constitution (seconds to train)."""
    from redline.guard import train_guard

    return train_guard(tiny, backend="tfidf", seed=0, holdout=0.25)


@pytest.fixture(scope="session")
def prefiltered(tiny):  # type: ignore[no-untyped-def]
    """A guard on the tiny constitution whose output stage has a prefilter (seconds to train).

    Its classifier is TF-IDF too, registered as an expensive backend so it gets one.
    """
    from redline.guard import train_guard
    from tests.guard.costly import CostlyTfidf  # registers the backend

    return train_guard(tiny, backend=CostlyTfidf.name, seed=0, holdout=0.25)


@pytest.fixture(scope="session")
def tiny_file(tmp_path_factory):  # type: ignore[no-untyped-def]
    """The tiny test constitution as a YAML file."""
    from tests.guard.tiny import TINY

    path = tmp_path_factory.mktemp("constitution") / "tiny.yaml"
    path.write_text(TINY)
    return path
