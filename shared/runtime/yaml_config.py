"""Reading the YAML config files (routing, rule pack, payer rules) so every error names file and line."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

Loc = tuple[str | int, ...]


class YamlFileError(ValueError):
    """The file cannot be read, is not YAML, or is not a mapping; the message names file and line."""


def read_yaml_mapping(path: Path, what: str, shape: str) -> tuple[dict[str, Any], yaml.Node]:
    """The file's data (a mapping) and its node tree (for line numbers). `what` names the file in errors
    ("the routing file"); `shape` says what the top level must be ("a mapping with version and rules")."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YamlFileError(f"{path}: cannot read {what}: {getattr(exc, 'strerror', None) or exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "somewhere"
        problem = getattr(exc, "problem", None) or str(exc)
        raise YamlFileError(f"{path} {where}: not valid YAML: {problem}") from exc
    if not isinstance(data, dict) or node is None:
        raise YamlFileError(f"{path} line 1: {what} must be {shape}")
    return data, node


def line_of(node: yaml.Node, loc: Sequence[str | int]) -> int:
    """1-based line of the deepest YAML node on `loc`. Location parts pydantic adds that are not keys in
    the file (a tagged union's tag, `[key]`) are stepped over."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if str(k.value) == str(key)), None)
            if found is None:
                continue
            node = found
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return int(node.start_mark.line) + 1


def validation_problems(exc: ValidationError, limit: int | None = None) -> list[tuple[Loc, str]]:
    """pydantic's errors as (location, message), without a container's complaint that only repeats a
    deeper error, and without pydantic's "Value error, " prefix."""
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    problems: list[tuple[Loc, str]] = []
    for error in errors[:limit]:
        loc = tuple(error["loc"])
        if any(other != loc and other[: len(loc)] == loc for other in locs):
            continue
        problems.append((loc, error["msg"].removeprefix("Value error, ")))
    return problems
