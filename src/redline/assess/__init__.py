"""`redline assess`: suites, guard, red team, over-refusal, decision, signed report."""

from redline.assess._profile import (
    DEFAULT_PROFILE,
    Profile,
    Step,
    load_profile,
    shipped_profiles,
)
from redline.assess._run import GUARDED_MODEL, AssessOptions, AssessResult, assess
from redline.assess._safeguards import safeguards_section

__all__ = [
    "DEFAULT_PROFILE",
    "GUARDED_MODEL",
    "AssessOptions",
    "AssessResult",
    "Profile",
    "Step",
    "assess",
    "load_profile",
    "safeguards_section",
    "shipped_profiles",
]
