"""Red-team engine: attacks, judges, campaigns and attack-success statistics."""

from redline.redteam._behaviors import Behavior, load_behaviors, load_benign

__all__ = ["Behavior", "load_behaviors", "load_benign"]
