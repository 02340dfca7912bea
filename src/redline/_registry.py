"""Inspect entry point: importing this module registers redline's provider and tasks."""

from redline.evals import autonomy, cyber, intercode, knowledge, mcq, smoke  # noqa: F401
from redline.models import providers  # noqa: F401
from redline.redteam import tasks  # noqa: F401
