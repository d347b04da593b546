"""command_form's error mapping: an error deep in a command is one NHS.UK sentence on one form field."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import BaseModel, Field, StringConstraints
from starlette.datastructures import FormData

from api.forms import FormRead, command_form, field_id

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5)]


class Source(BaseModel):
    line: int = Field(ge=1, le=3)
    source: Line


class Sources(BaseModel):
    form_messages: ClassVar[dict[str, str]] = {
        "sources.*.source:string_too_long": "Each source must be 5 characters or fewer",
        "tags": "Each tag must be 5 characters or fewer",
    }
    sources: list[Source] = []
    tags: list[Line] = []


def read(form: FormData) -> FormRead:
    sources, ids = [], {}
    for line in (1, 2):
        for text in str(form.get(f"line_{line}", "")).split("\n"):
            if text.strip():
                ids[f"sources.{len(sources)}"] = f"line_{line}"
                sources.append({"line": line, "source": text})
    return FormRead({"sources": sources, "tags": form.getlist("tags")}, ids)


def test_a_nested_error_is_shown_on_the_box_it_came_from_with_the_models_sentence() -> None:
    dependency = command_form(Sources, read=read)
    result = dependency.validate(
        FormData([("line_1", "ok"), ("line_2", "fine\nmuch too long"), ("tags", "a")])
    )
    assert result.command is None
    assert result.errors == {"line_2": "Each source must be 5 characters or fewer"}
    assert result.values["line_2"] == "fine\nmuch too long"


def test_an_error_in_a_list_of_words_is_one_error_on_the_field() -> None:
    result = command_form(Sources, read=read).validate(FormData([("tags", "ok"), ("tags", "far too long")]))
    assert result.errors == {"tags": "Each tag must be 5 characters or fewer"}


def test_a_service_error_location_finds_its_form_field_by_its_longest_known_prefix() -> None:
    ids = {"sources.0": "line_1", "sources.1": "line_2"}
    assert field_id("sources.1.source", ids) == "line_2"
    assert field_id("sources.7.source", ids) == "sources"
    assert field_id("tags.3", {}) == "tags"
    ok = command_form(Sources, read=read).validate(FormData([("line_1", "a\nb")]))
    assert ok.command is not None and ok.field_for("sources.1.line") == "line_1"
