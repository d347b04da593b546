"""The submitted form as a dependency, so page routes stay synchronous.

Parsing the body is the only async step; it happens here, in the event loop. The route itself then
runs in the thread pool, where its database work (row locks included) may wait without blocking
every other request on this worker.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Annotated, Any, Generic, Protocol, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, StringConstraints, ValidationError
from starlette.datastructures import FormData
from starlette.responses import Response

from api.errors import Conflict, FieldError


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


def date_from_parts(day: str, month: str, year: str, what: str, example: str = "30 6 2027") -> date:
    """A date from the three boxes of an NHS.UK date input, or ValueError saying what is wrong in
    words for the error summary (`what`: "The rating deadline")."""
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    if not any(parts.values()):
        raise ValueError(f"Enter {what[0].lower()}{what[1:]}")
    missing = next((name for name, value in parts.items() if not value), None)
    if missing:
        raise ValueError(f"{what} must include a {missing}")
    try:
        number = {name: int(value) for name, value in parts.items()}
        if not 1000 <= number["year"] <= 9999:
            raise ValueError
        return date(number["year"], number["month"], number["day"])
    except ValueError:
        raise ValueError(f"{what} must be a real date, for example {example}") from None


# --- One command model per write ------------------------------------------------------------------
#
# Each write has one pydantic model (its "command"), used by the JSON route as its body and by the
# page as its form: validated once, by the same rules. A page reads it through `command_form(Model)`,
# which never raises: it gives the route the command, or the NHS.UK error messages by field with what
# was typed, so the route can show the page again with the error summary. The messages a person reads
# come from the model's `form_messages` ("field:pydantic error type" or "field" -> sentence); a field
# without one gets a plain default.


M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class FormRead:
    """What a `read` function gives when the model's fields are nested or lists: the values, and
    which form field holds each location ("assurances.3" -> "assurance_2"), so an error deep in the
    command (`assurances.3.source`) is shown beside the box the person typed it in."""

    values: dict[str, Any]
    field_ids: dict[str, str] = field(default_factory=dict)


def field_id(location: str, field_ids: Mapping[str, str]) -> str:
    """The form field for an error location: the longest prefix of it named in `field_ids`
    ("gaps.2.action_ids" -> field_ids["gaps.2"]), else its top-level field ("controls.4" -> "controls")."""
    parts = location.split(".")
    for end in range(len(parts), 0, -1):
        prefix = ".".join(parts[:end])
        if prefix in field_ids:
            return field_ids[prefix]
    return parts[0]


@dataclass(frozen=True)
class CommandForm(Generic[M]):
    command: M | None
    # What was typed, by form field, to show again beside the errors.
    values: dict[str, str]
    # Field -> the sentence for the error summary and the field.
    errors: dict[str, str]
    # Location in the command -> form field, for nested and list fields (see FormRead).
    field_ids: dict[str, str] = field(default_factory=dict)
    # The whole form as posted (a field's several values: form.getlist), to show it again as typed.
    form: FormData = field(default_factory=FormData)

    @property
    def ok(self) -> bool:
        return self.command is not None

    def field_for(self, location: str) -> str:
        """The form field a service's FieldError location points at ("gaps.1.action_ids")."""
        return field_id(location, self.field_ids)

    def command_or_raise(self) -> M:
        """The command, or its first error raised as a FieldError: for a form with no boxes of the
        person's own (a button and hidden fields), where only a changed form fails and there is no
        form to show again, so the error page shows the message."""
        if self.command is None:
            field_name, message = next(iter(self.errors.items()))
            raise FieldError(field_name, message)
        return self.command


def form_messages(model: type[BaseModel]) -> dict[str, str]:
    return dict(getattr(model, "form_messages", {}) or {})


def _pattern(location: tuple[Any, ...]) -> str:
    """A location with its list positions as `*`: ("assurances", 3, "source") -> "assurances.*.source"."""
    return ".".join("*" if isinstance(part, int) else str(part) for part in location)


def nhs_errors(
    model: type[BaseModel], exc: ValidationError, field_ids: Mapping[str, str] | None = None
) -> dict[str, str]:
    """One sentence per form field, from the model's `form_messages`, else from what pydantic found.

    A nested error's sentence is looked up by its location with list positions as `*`
    ("assurances.*.source:string_too_long", then "assurances.*.source"), then by its top-level field;
    it is shown against the form field `field_ids` names for it (see `field_id`)."""
    messages = form_messages(model)
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = tuple(error["loc"])
        if not location:
            location = ("form",)
        top = str(location[0])
        form_field = field_id(".".join(str(part) for part in location), field_ids or {})
        if form_field in errors:
            continue
        kind = error.get("type")
        candidates = []
        if len(location) > 1:
            # The whole location ("assurances.*.source"), then its last field name ("level" of
            # "answers.<criterion key>.level", where the key is a dict key, not a position).
            leaf = next((str(part) for part in reversed(location) if isinstance(part, str)), top)
            candidates += [f"{_pattern(location)}:{kind}", _pattern(location), f"{leaf}:{kind}", leaf]
        candidates += [f"{top}:{kind}", top]
        errors[form_field] = next(
            (messages[key] for key in candidates if key in messages), None
        ) or _default_message(str(next((p for p in reversed(location) if isinstance(p, str)), top)), error)
    return errors


def _default_message(field: str, error: Any) -> str:
    name = field.replace("_", " ").capitalize()
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "missing":
        return f"Enter {field.replace('_', ' ')}"
    if kind == "string_too_long":
        return f"{name} must be {context.get('max_length', 0):,} characters or fewer"
    if kind == "string_too_short":
        return f"Enter {field.replace('_', ' ')}"
    if kind == "value_error" and context.get("error"):
        # A validator's own sentence, written for the page ("The date the cycle opens must include a month").
        return str(context["error"])
    return f"{name}: {error.get('msg', 'is not valid')}"


def validate_command(
    model: type[M], values: Mapping[str, Any], field_ids: Mapping[str, str] | None = None
) -> CommandForm[M]:
    """The command from these values, or its errors (never raises a validation error)."""
    typed = {key: value for key, value in values.items() if isinstance(value, str)}
    ids = dict(field_ids or {})
    try:
        # Form values are always text: "3" is the number 3 here, though a strict JSON body refuses it.
        return CommandForm(model.model_validate(dict(values), strict=False), typed, {}, ids)
    except ValidationError as exc:
        return CommandForm(None, typed, nhs_errors(model, exc, ids), ids)


class _CommandFormDependency(Generic[M]):
    """A page route's form as `model`: `PageForm[Model]` in the route's signature (see PageForm).

    Empty fields are left out, so the model's defaults and "required" rules apply as they do to JSON.
    Also found by the write-route test, which checks a page and its API twin use the same model."""

    def __init__(self, model: type[M], *, read: Reader | None = None) -> None:
        self.model = model
        self.read = read

    async def __call__(self, request: Request) -> CommandForm[M]:
        form = await request.form()
        return self.validate(form, request.path_params)

    def validate(self, form: FormData, path_params: Mapping[str, Any] | None = None) -> CommandForm[M]:
        read = None
        if self.read is not None:
            # A read may also take the path's parameters (the criterion a field name is built from).
            takes_path = len(inspect.signature(self.read).parameters) > 1
            read = self.read(form, dict(path_params or {})) if takes_path else self.read(form)  # type: ignore[call-arg]
        if isinstance(read, FormRead):
            values, field_ids = read.values, read.field_ids
        elif read is not None:
            values, field_ids = read, {}
        else:
            values = {key: value for key, value in form.items() if key != "csrf_token" and value != ""}
            field_ids = {}
        result = validate_command(self.model, values, field_ids)
        raw = {key: value for key, value in form.items() if isinstance(value, str) and key != "csrf_token"}
        return CommandForm(result.command, raw, result.errors, result.field_ids, form)


Reader = Callable[..., "dict[str, Any] | FormRead"]


def command_form(model: type[M], *, read: Reader | None = None) -> Any:
    """The dependency that reads a page's form as `model` (see _CommandFormDependency); `read`
    turns the form into the model's fields where they are not one box each (a date in three), or
    returns a FormRead naming the form field of each nested location (lines of a risk's assurances).
    `read(form)`, or `read(form, path_params)` where field names carry a path parameter."""
    return _CommandFormDependency(model, read=read)


class PageForm:
    """A page route's form, read as its command: `form: PageForm[Model]`, or `PageForm[Model, read]`
    with a `read` function (see command_form). The same dependency as
    `Annotated[CommandForm[Model], Depends(command_form(Model, read=read))]`, written once."""

    def __class_getitem__(cls, params: Any) -> Any:
        model, read = params if isinstance(params, tuple) else (params, None)
        return Annotated[CommandForm[model], Depends(command_form(model, read=read))]  # type: ignore[valid-type]


def date_parts(form: FormData, prefix: str) -> str | None:
    """The ISO date typed in an NHS.UK date input's three boxes (`prefix_day` ...), for a command's
    date field; None when all three are empty. A wrong date stays a string the model refuses."""
    parts = [str(form.get(f"{prefix}_{part}") or "").strip() for part in ("day", "month", "year")]
    if not any(parts):
        return None
    day, month, year = parts
    if not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
        return f"{year}-{month}-{day}"
    return f"{int(year):04d}-{int(month):02d}-{int(day):02d}"


# --- A page's write --------------------------------------------------------------------------------------

R = TypeVar("R")


def save_page(
    form: CommandForm[M],
    save: Callable[[M], R],
    *,
    done: Callable[[R], Response],
    again: Callable[[dict[str, str], Any], Response],
    errors: Mapping[str, str] | None = None,
    field_for: Callable[[str], str] | None = None,
    stale: Callable[[Conflict, dict[str, str]], Any] | None = None,
) -> Response:
    """A page write's one shape: a valid command goes to the service (`save`), then `done(result)`
    (a redirect); otherwise the page again, `again(errors, current)`, with the form's errors (or
    `errors`, the same mapped to the page's fields) and a service's FieldError beside its field
    (`field_for`, by default the form's own `field_for`). A Conflict (a stale version) goes to
    `stale(conflict, errors)`, which adds its message and gives the current state shown beside the
    form; a page without `stale` lets the Conflict through."""
    shown = dict(form.errors if errors is None else errors)
    current = None
    if form.command is not None:
        try:
            result = save(form.command)
        except FieldError as exc:
            shown[(field_for or form.field_for)(exc.field)] = exc.message
        except Conflict as exc:
            if stale is None:
                raise
            current = stale(exc, shown)
        else:
            return done(result)
    return again(shown, current)


class Versioned(Protocol):
    """What an edit form and the thing it edits share: the version, for a compare-and-set save."""

    version: int


def save_edit_page(
    form: CommandForm[M],
    save: Callable[[M], R],
    *,
    done: Callable[[R], Response],
    again: Callable[[dict[str, str], Any, int], Response],
    typed: Versioned,
    current: Callable[[], Versioned | None],
    stale: tuple[str, str],
    errors: Mapping[str, str] | None = None,
    field_for: Callable[[str], str] | None = None,
) -> Response:
    """save_page for a form that edits something with a version (`typed`: the form as the person
    typed it, shown again on a problem).

    When someone else saved first (a Conflict carrying `current`), the page shows again with the
    message `stale` = (field, message), what is saved now (`current()`) beside the form, and the
    form's version moved on to it, so saving again saves over it: `again(errors, current, 409)`.
    Another Conflict is shown as its own message on that field; any other problem is
    `again(errors, None, 422)`."""
    stale_field, stale_message = stale

    def on_conflict(conflict: Conflict, shown: dict[str, str]) -> Versioned | None:
        if "current" not in conflict.extra:
            shown[stale_field] = conflict.message
            return None
        shown[stale_field] = stale_message
        now = current()
        typed.version = now.version if now is not None else 0
        return now

    return save_page(
        form,
        save,
        done=done,
        again=lambda shown, now: again(shown, now, 409 if now else 422),
        errors=errors,
        field_for=field_for,
        stale=on_conflict,
    )


# --- Upload forms ---------------------------------------------------------------------------------------


class FileUpload(BaseModel):
    """An upload form's command: the name of the file chosen. The file itself stays an UploadFile the
    route reads (its size and content are checked by the service that takes it); a form with no
    file chosen is refused here, with the subclass's `form_messages["file_name"]`."""

    file_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def file_name_of(field: str, field_id: str | None = None) -> Callable[[FormData], FormRead]:
    """A `read` for an upload form: the name of the file in `field`, its errors shown on `field_id`
    (the file input; `field` unless named)."""

    def read(form: FormData) -> FormRead:
        upload = form.get(field)
        return FormRead(
            {"file_name": getattr(upload, "filename", None) or ""}, {"file_name": field_id or field}
        )

    return read


# Text files (a CSV of trusts or indicators, a framework's YAML): read whole, so kept small.
MAX_TEXT_UPLOAD_BYTES = 2 * 1024 * 1024
# A file with more problems than this lists the first ones and says how many more.
MAX_LISTED_PROBLEMS = 50


def read_upload(upload: Any, what: str) -> tuple[str, str | None]:
    """The uploaded file's text, or ("", what is wrong with it, as the page says it)."""
    if upload is None or not getattr(upload, "filename", None):
        return "", f"Select a {what} file"
    content = upload.file.read(MAX_TEXT_UPLOAD_BYTES + 1)
    if not content:
        return "", f"The selected file is empty. Select a {what} file with something in it"
    if len(content) > MAX_TEXT_UPLOAD_BYTES:
        return "", f"The selected file must be smaller than {MAX_TEXT_UPLOAD_BYTES // (1024 * 1024)} MB"
    try:
        return content.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return "", f"The selected file must be a {what} file saved as UTF-8 text"


@dataclass(frozen=True)
class TextUpload(Generic[M]):
    """A text file's upload form, read: its command (the file's name) and text, or the errors."""

    command: M | None
    text: str
    errors: dict[str, str]


def text_upload(form: CommandForm[M], file: Any, what: str) -> TextUpload[M]:
    """The upload form's command with its `file` (the route's `File()` parameter, which also gives
    the route its larger body limit, api/body_limit.py) read as UTF-8 text (`what`: "CSV"), or the
    errors to show beside the file input: no file chosen, an empty, too large or not-text file."""
    if form.command is None:
        return TextUpload(None, "", form.errors)
    text, problem = read_upload(file, what)
    if problem:
        return TextUpload(None, "", {form.field_for("file_name"): problem})
    return TextUpload(form.command, text, {})


def as_sentence(message: str) -> str:
    """A service message as the page shows it: capital first letter (the CLI's are lower case)."""
    return message[:1].upper() + message[1:]


def file_problems(file_name: str, problems: list[str], nothing_done: str) -> tuple[str, list[str]]:
    """A refused file's summary for the error summary ("trusts.csv has 3 problems. Nothing has been
    imported. ...", `nothing_done`: "imported") and its problems as the page lists them."""
    listed = [as_sentence(problem) for problem in problems[:MAX_LISTED_PROBLEMS]]
    if len(problems) > len(listed):
        listed.append(f"And {len(problems) - len(listed)} more problems")
    summary = (
        f"{file_name} has {len(problems)} problem{'s' if len(problems) != 1 else ''}. "
        f"Nothing has been {nothing_done}. Correct the file and upload it again"
    )
    return summary, listed
