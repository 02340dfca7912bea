"""Shipped policies and loading a policy by name or path."""

from pathlib import Path

from redline._yaml import load_named, shipped_files
from redline.policy._schema import Policy

DEFAULT_POLICY = "rsp"


def shipped_policies() -> dict[str, Path]:
    """Names and files of the policies redline ships."""
    return shipped_files("redline.policy", "policies")


def load_policy(name_or_path: str | Path = DEFAULT_POLICY) -> Policy:
    """A shipped policy by name (`rsp`, ...) or a policy YAML file by path."""
    return load_named(name_or_path, shipped_policies(), Policy, "policy")
