"""The `redline` command."""

from redline.cli import (  # noqa: F401  (each module registers its commands)
    _assess,
    _chat,
    _eval,
    _guard,
    _keys,
    _models,
    _policy,
    _redteam,
    _serve,
)
from redline.cli._app import app, main

__all__ = ["app", "main"]
