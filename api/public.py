"""Answers filled from the objects they describe, field by field of the same name.

`filled(ActionPublic, view, criteria=view.criterion_keys)` instead of a line a field: the JSON
answer names only what it renames or works out, so a field added to both sides needs no third
change, and a renamed one stands out."""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


def field_names(model: type) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    return [field.name for field in dataclasses.fields(model)]


def filled(model: type[T], source: object, **given: Any) -> T:
    """`model(**given)`, each other field read from `source`'s attribute of the same name (a field
    the source has no attribute for keeps the model's default)."""
    values = {
        name: getattr(source, name)
        for name in field_names(model)
        if name not in given and hasattr(source, name)
    }
    return model(**values, **given)
