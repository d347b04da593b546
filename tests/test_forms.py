"""command_form's error mapping: an error deep in a command is one NHS.UK sentence on one form field;
and how a page write shows a refused form or a stale edit again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import pytest
from pydantic import BaseModel, Field, StringConstraints
from starlette.datastructures import FormData
from starlette.responses import Response

from api.errors import Conflict, FieldError
from api.forms import FormRead, command_form, field_id, save_edit_page

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


def test_a_form_with_no_boxes_of_its_own_raises_its_first_error() -> None:
    dependency = command_form(Sources, read=read)
    assert dependency.validate(FormData([("tags", "ok")])).command_or_raise().tags == ["ok"]
    with pytest.raises(FieldError) as refused:
        dependency.validate(FormData([("tags", "far too long")])).command_or_raise()
    assert (refused.value.field, refused.value.message) == ("tags", "Each tag must be 5 characters or fewer")


@dataclass
class Versioned:
    version: int


def _edit(conflict: Conflict, typed: Versioned) -> tuple[dict[str, str], Any, int]:
    shown: list[tuple[dict[str, str], Any, int]] = []

    def save(_: Sources) -> None:
        raise conflict

    def again(errors: dict[str, str], current: Any, status_code: int) -> Response:
        shown.append((errors, current, status_code))
        return Response(status_code=status_code)

    save_edit_page(
        command_form(Sources, read=read).validate(FormData([("tags", "ok")])),
        save,
        done=lambda _: Response(status_code=303),
        again=again,
        typed=typed,
        current=lambda: Versioned(7),
        stale=("title", "Someone else saved first"),
    )
    return shown[0]


def test_a_stale_edit_shows_what_is_saved_now_and_takes_its_version() -> None:
    typed = Versioned(3)
    errors, current, status_code = _edit(Conflict("changed", current={"version": 7}), typed)
    assert (errors, current, status_code) == ({"title": "Someone else saved first"}, Versioned(7), 409)
    assert typed.version == 7


def test_another_conflict_on_an_edit_is_shown_as_its_own_message() -> None:
    typed = Versioned(3)
    assert _edit(Conflict("No year has started"), typed) == ({"title": "No year has started"}, None, 422)
    assert typed.version == 3
