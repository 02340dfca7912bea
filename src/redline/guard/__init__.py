"""Guard: constitution -> input and streaming output classifiers, and the screening proxy."""

from redline.guard._constitution import (
    DEFAULT_CONSTITUTION,
    Category,
    Constitution,
    load_constitution,
    shipped_constitutions,
)
from redline.guard._guard import (
    DEFAULT_BACKEND,
    Guard,
    Manifest,
    Verdict,
    default_guard_dir,
    train_guard,
)
from redline.guard._normalize import View, normalize, views
from redline.guard._stream import StreamScreen

__all__ = [
    "DEFAULT_BACKEND",
    "DEFAULT_CONSTITUTION",
    "Category",
    "Constitution",
    "Guard",
    "Manifest",
    "StreamScreen",
    "Verdict",
    "View",
    "default_guard_dir",
    "load_constitution",
    "normalize",
    "shipped_constitutions",
    "train_guard",
    "views",
]
