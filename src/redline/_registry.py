"""Inspect entry point: importing this module registers redline's providers and tasks."""

from redline.evals import autonomy, cyber, intercode, knowledge, mcq, smoke  # noqa: F401
from redline.models import _guarded, _provider  # noqa: F401
from redline.redteam import _campaign  # noqa: F401
