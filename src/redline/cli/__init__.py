"""The `redline` command."""

from redline.cli import _chat, _eval, _guard, _models, _policy, _redteam  # noqa: F401  (each module registers its commands)
from redline.cli._app import app, main

__all__ = ["app", "main"]
