import pytest

from redline._yaml import parse_yaml_model
from redline.guard import Constitution, train_guard
from tests.guard.tiny import TINY


@pytest.fixture(scope="session")
def tiny() -> Constitution:
    return parse_yaml_model(TINY, Constitution, name="tiny.yaml")


@pytest.fixture(scope="session")
def tfidf_guard(tiny):
    return train_guard(tiny, backend="tfidf", seed=0, holdout=0.25)
