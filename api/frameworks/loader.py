"""Reading and checking framework files: YAML in, a validated Framework or located errors out."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from api.frameworks.schema import FrameworkDefinition


class FrameworkFileError(Exception):
    """A framework file that cannot be used, with every problem and where it is."""

    def __init__(self, path: Path | str, errors: list[str]) -> None:
        self.path = str(path)
        self.errors = errors
        super().__init__(f"{self.path}: " + "; ".join(errors))


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML keeps the last of two equal keys silently; a framework file must not."""


def _mapping_without_duplicates(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: dict[Any, int] = {}
    for key_node, _value_node in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key]})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates)


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """`sections[2] (safe-spaces).criteria[0] (safe-spaces-forums).descriptors`"""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list):
            label = f"[{item}]"
            node = node[item] if item < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("key"), str):
                label += f" ({node['key']})"
            if parts:
                parts[-1] += label
            else:
                parts.append(label)
        else:
            parts.append(str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def parse_framework(text: str, path: Path | str = "<text>") -> FrameworkDefinition:
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}" if mark else "somewhere"
        raise FrameworkFileError(path, [f"{where}: {exc.problem or exc}"]) from exc
    except yaml.YAMLError as exc:
        raise FrameworkFileError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(data, dict):
        raise FrameworkFileError(path, ["(top level): expected a mapping of framework fields"])
    try:
        return FrameworkDefinition.model_validate(data)
    except ValidationError as exc:
        errors = []
        for error in exc.errors():
            message = error["msg"].removeprefix("Value error, ")
            errors.append(f"{_location(error['loc'], data)}: {message}")
        raise FrameworkFileError(path, errors) from exc


def load_framework_file(path: Path) -> FrameworkDefinition:
    """Read and check one file; a framework naming its `previous` version is checked against it."""
    doc = _read_framework_file(path)
    if doc.previous is not None:
        previous = _previous_framework_file(path, doc.previous)
        errors = lineage_errors(doc, _read_framework_file(previous))
        if errors:
            raise FrameworkFileError(path, errors)
    return doc


def _read_framework_file(path: Path) -> FrameworkDefinition:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise FrameworkFileError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    return parse_framework(text, path)


def _previous_framework_file(path: Path, key: str) -> Path:
    """The file beside `path` holding framework `key` (named `<key>.yaml` by convention)."""
    named = path.parent / f"{key}.yaml"
    if named.is_file():
        return named
    for candidate in sorted(path.parent.glob("*.yaml")):
        if candidate != path and _declared_key(candidate) == key:
            return candidate
    raise FrameworkFileError(
        path, [f"previous: no file for framework {key!r} beside this one (expected {named.name})"]
    )


def _declared_key(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return data.get("key") if isinstance(data, dict) else None


def lineage_errors(doc: FrameworkDefinition, previous: FrameworkDefinition) -> list[str]:
    """Every `replaces` key must be a criterion of the previous version."""
    if previous.key != doc.previous:
        return [f"previous: names {doc.previous!r} but the file found holds {previous.key!r}"]
    if previous.version >= doc.version:
        return [f"previous: {previous.key!r} is version {previous.version}, not earlier than {doc.version}"]
    known = {c.key for s in previous.sections for c in s.criteria}
    errors = []
    for s_index, section in enumerate(doc.sections):
        for c_index, criterion in enumerate(section.criteria):
            for old in criterion.replaces:
                if old not in known:
                    errors.append(
                        f"sections[{s_index}] ({section.key}).criteria[{c_index}] ({criterion.key}).replaces: "
                        f"{old!r} is not a criterion of {previous.key}"
                    )
    return errors


def canonical_definition(doc: FrameworkDefinition) -> dict[str, Any]:
    """The document as stored: JSON types only, so a stored copy compares equal to a fresh load."""
    return json.loads(json.dumps(doc.model_dump(mode="json"), sort_keys=True))


def content_hash(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def describe_changes(old: Any, new: Any, path: str = "") -> list[str]:
    """Where two stored definitions differ, as readable paths (`sections[0].criteria[1].statement`)."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[str] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                changes.append(f"{where} added")
            elif key not in new:
                changes.append(f"{where} removed")
            else:
                changes.extend(describe_changes(old[key], new[key], where))
        return changes
    if isinstance(old, list) and isinstance(new, list):
        changes = []
        for index in range(max(len(old), len(new))):
            where = f"{path}[{index}]"
            if index >= len(old):
                changes.append(f"{where} added")
            elif index >= len(new):
                changes.append(f"{where} removed")
            else:
                changes.extend(describe_changes(old[index], new[index], where))
        return changes
    return [] if old == new else [f"{path} changed"]
