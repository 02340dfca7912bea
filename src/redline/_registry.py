"""Inspect entry point: importing this module registers redline's providers and tasks."""

from redline.evals import smoke  # noqa: F401
from redline.models import _provider  # noqa: F401
