"""Load YAML into a pydantic model with errors that name the file, the line and the field.

Every problem is one line, `NAME:LINE: FIELD: MESSAGE`. Duplicate keys are errors (YAML would
keep the last silently), and an unknown key is named with the field it probably meant.
"""

import difflib
import types
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import yaml
from pydantic import BaseModel, ValidationError

from redline._files import read_text
from redline._records import FieldError
from redline.errors import RedlineError

M = TypeVar("M", bound=BaseModel)
Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Located(Generic[M]):
    """A model read from YAML, with the file's node tree so later checks can name lines."""

    value: M
    name: str
    root: yaml.Node | None

    def line(self, loc: Loc) -> int:
        """1-based line of the field at `loc` (the nearest enclosing node that exists)."""
        return _line_of(self.root, loc)

    def error(self, loc: Loc, message: str) -> RedlineError:
        """A one-line error about the field at `loc`: `NAME:LINE: FIELD: MESSAGE`."""
        return RedlineError(f"{self.name}:{self.line(loc)}: {_field(loc)}: {message}")


def load_yaml_model(path: str | Path, model: type[M]) -> M:
    """Read `path` as YAML and validate it as `model`; any problem is a one-line RedlineError."""
    return load_yaml_located(path, model).value


def load_yaml_located(path: str | Path, model: type[M]) -> Located[M]:
    """Like `load_yaml_model`, keeping the node tree for errors found after loading."""
    return parse_yaml_located(read_text(path), model, name=str(path))


def parse_yaml_model(text: str, model: type[M], name: str = "<string>") -> M:
    """Validate YAML text as `model`; errors read `NAME:LINE: FIELD: MESSAGE`."""
    return parse_yaml_located(text, model, name).value


def parse_yaml_located(text: str, model: type[M], name: str = "<string>") -> Located[M]:
    """Validate YAML text as `model`, keeping the node tree."""
    try:
        loader = yaml.SafeLoader(text)
        try:
            root = loader.get_single_node()
            if root is not None:
                _reject_duplicate_keys(root, name)
            data = loader.construct_document(root) if root is not None else None
        finally:
            loader.dispose()
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(ex, "problem", None) or str(ex).splitlines()[0]
        raise RedlineError(f"{name}{where}: invalid YAML: {problem}") from ex
    if not isinstance(data, dict):
        raise RedlineError(f"{name}:1: (top level): expected a mapping")
    try:
        return Located(model.model_validate(data), name, root)
    except ValidationError as ex:
        loc, message = _explain(ex, model, root)
        raise RedlineError(f"{name}:{_line_of(root, loc)}: {_field(loc)}: {message}") from ex


def _reject_duplicate_keys(node: yaml.Node, name: str, path: Loc = ()) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.tag != "tag:yaml.org,2002:merge":
                line = key.start_mark.line + 1
                if key.value in seen:
                    raise RedlineError(
                        f"{name}:{line}: {_field((*path, key.value))}: duplicate key "
                        f"(first given on line {seen[key.value]}; YAML would keep only the last)"
                    )
                seen[key.value] = line
            _reject_duplicate_keys(value, name, (*path, getattr(key, "value", "?")))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _reject_duplicate_keys(item, name, (*path, i))


def _explain(
    ex: ValidationError, model: type[BaseModel], root: yaml.Node | None
) -> tuple[Loc, str]:
    """The location and message of the error a user should fix first."""
    errors = ex.errors()
    unknown = [e for e in errors if e["type"] == "extra_forbidden"]
    first = unknown[0] if unknown else errors[0]
    loc: Loc = tuple(first["loc"])
    message = first["msg"].removeprefix("Value error, ")
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, FieldError):
        loc, message = (*loc, *cause.loc), cause.message
    explained = 1
    if first["type"] == "extra_forbidden":
        message, meant = _unknown_field(model, loc, root)
        explained += sum(
            1 for e in errors if e["type"] == "missing" and tuple(e["loc"]) == (*loc[:-1], meant)
        )
    more = len(errors) - explained
    return loc, message + (f" (and {more} more)" if more > 0 else "")


def _unknown_field(model: type[BaseModel], loc: Loc, root: yaml.Node | None) -> tuple[str, str]:
    """'unknown field X (did you mean Y?)', and Y (empty when nothing is close)."""
    key = str(loc[-1])
    fields = _fields_at(model, loc[:-1])
    given = _keys_at(root, loc[:-1])
    candidates = [f for f in fields if f not in given] or fields
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if close:
        return f"unknown field {key!r} (did you mean {close[0]!r}?)", close[0]
    return f"unknown field {key!r} (expected one of: {', '.join(fields)})", ""


def _fields_at(tp: Any, loc: Loc) -> list[str]:
    """The field names of the model found by following `loc` through `tp`'s annotations."""
    for part in loc:
        tp = _unwrap(tp, part)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if str(part) not in tp.model_fields:
                return []
            tp = tp.model_fields[str(part)].annotation
        elif get_origin(tp) in (list, tuple, set, frozenset):
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return []
    tp = _unwrap(tp, None)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unwrap(tp: Any, tag: str | int | None) -> Any:
    """Strip Annotated and Optional; pick a tagged union's member by its tag."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
        elif get_origin(tp) in (Union, types.UnionType):
            members = [m for m in get_args(tp) if m is not type(None)]
            tagged = [m for m in members if _has_tag(m, tag)]
            tp = tagged[0] if tagged else members[0]
        else:
            return tp


def _has_tag(member: Any, tag: str | int | None) -> bool:
    if not (isinstance(member, type) and issubclass(member, BaseModel)):
        return False
    return any(tag in get_args(f.annotation) for f in member.model_fields.values())


def _keys_at(node: yaml.Node | None, loc: Loc) -> set[str]:
    node = _node_at(node, loc)
    if isinstance(node, yaml.MappingNode):
        return {str(k.value) for k, _ in node.value}
    return set()


def _node_at(node: yaml.Node | None, loc: Loc) -> yaml.Node | None:
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            if match is not None:
                node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return None
            node = node.value[part]
    return node


def _line_of(node: yaml.Node | None, loc: Loc) -> int:
    """1-based line of the deepest node along `loc` (parts that match no node are skipped)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                continue
            line = pair[0].start_mark.line + 1
            node = pair[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
    return line


def _field(loc: Loc) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def shipped_files(package: str, folder: str) -> dict[str, Path]:
    """Names (file stems) and paths of the YAML files a redline package ships in `folder`."""
    root = Path(str(files(package) / folder))
    return {p.stem: p for p in sorted(root.glob("*.yaml"))}


def load_named(name_or_path: str | Path, shipped: dict[str, Path], model: type[M], kind: str) -> M:
    """A shipped file by name, or a YAML file by path, validated as `model`."""
    return load_yaml_model(named_path(name_or_path, shipped, kind), model)


def named_path(name_or_path: str | Path, shipped: dict[str, Path], kind: str) -> Path:
    """The file a shipped name or a path stands for."""
    if str(name_or_path) in shipped:
        return shipped[str(name_or_path)]
    path = Path(name_or_path)
    if not path.exists():
        raise RedlineError(
            f"no {kind} named {str(name_or_path)!r} and no such file "
            f"(shipped: {', '.join(shipped) or 'none'})"
        )
    return path
