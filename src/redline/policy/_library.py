"""Shipped policies and loading a policy by name or path."""

from importlib.resources import files
from pathlib import Path

from redline._yaml import load_yaml_model
from redline.errors import RedlineError
from redline.policy._schema import Policy

DEFAULT_POLICY = "rsp"


def shipped_policies() -> dict[str, Path]:
    """Names and files of the policies redline ships."""
    folder = Path(str(files("redline.policy") / "policies"))
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def load_policy(name_or_path: str | Path = DEFAULT_POLICY) -> Policy:
    """A shipped policy by name (`rsp`, ...) or a policy YAML file by path."""
    shipped = shipped_policies()
    if str(name_or_path) in shipped:
        return load_yaml_model(shipped[str(name_or_path)], Policy)
    path = Path(name_or_path)
    if not path.exists():
        raise RedlineError(
            f"no policy named {str(name_or_path)!r} and no such file "
            f"(shipped policies: {', '.join(shipped)})"
        )
    return load_yaml_model(path, Policy)
