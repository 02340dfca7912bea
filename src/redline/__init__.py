"""redline: AI Safety Levels as code.

Measure a model's dangerous capabilities, decide the safety level it needs, defend it with
constitutional classifiers, red-team those defences and gate the release on the evidence.
"""

from importlib.metadata import PackageNotFoundError, version

from redline.errors import RedlineError

try:
    __version__ = version("redline")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["RedlineError", "__version__"]
