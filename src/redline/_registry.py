"""Inspect entry point: importing this module registers redline's provider, tasks, approver.

The approver is the action monitor's, `redline/monitor`.
"""

from redline.evals import autonomy, cyber, intercode, knowledge, mcq, smoke  # noqa: F401
from redline.guard import monitor_approver  # noqa: E402, F401
from redline.models import providers  # noqa: F401
from redline.redteam import tasks  # noqa: F401
