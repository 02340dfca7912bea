"""Load YAML into a pydantic model with errors that name the file, the line and the field."""

from importlib.resources import files
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from redline._files import read_text
from redline.errors import RedlineError

M = TypeVar("M", bound=BaseModel)


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read `path` as YAML and validate it as `model`; any problem is a one-line RedlineError."""
    return parse_yaml_model(read_text(path), model, name=str(path))


def parse_yaml_model(text: str, model: type[M], name: str = "<string>") -> M:
    """Validate YAML text as `model`; errors read `NAME:LINE: FIELD: MESSAGE`."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(ex, "problem", None) or str(ex).splitlines()[0]
        raise RedlineError(f"{name}{where}: invalid YAML: {problem}") from ex
    if not isinstance(data, dict):
        raise RedlineError(f"{name}:1: expected a mapping at the top level")
    try:
        return model.model_validate(data)
    except ValidationError as ex:
        first = ex.errors()[0]
        loc = tuple(first["loc"])
        field = ".".join(str(part) for part in loc) or "(top level)"
        line = _line_of(root, loc)
        more = f" (and {ex.error_count() - 1} more)" if ex.error_count() > 1 else ""
        message = first["msg"].removeprefix("Value error, ")
        raise RedlineError(f"{name}:{line}: {field}: {message}{more}") from ex


def _line_of(node: Any, loc: tuple[Any, ...]) -> int:
    """1-based line of the deepest node along `loc` (parts that match no node are skipped)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is None:
                continue
            line = next(k for k, v in node.value if v is match).start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def shipped_files(package: str, folder: str) -> dict[str, Path]:
    """Names (file stems) and paths of the YAML files a redline package ships in `folder`."""
    root = Path(str(files(package) / folder))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def load_named(name_or_path: str | Path, shipped: dict[str, Path], model: type[M], kind: str) -> M:
    """A shipped file by name, or a YAML file by path, validated as `model`."""
    if str(name_or_path) in shipped:
        return load_yaml_model(shipped[str(name_or_path)], model)
    path = Path(name_or_path)
    if not path.exists():
        raise RedlineError(
            f"no {kind} named {str(name_or_path)!r} and no such file "
            f"(shipped: {', '.join(shipped) or 'none'})"
        )
    return load_yaml_model(path, model)
