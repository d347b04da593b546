"""Machinery for tests/test_route_walk.py: finding every route and its rule, one world of two trusts,
people signed in to it, requests with example bodies, and a fingerprint of the database.

What people edit (the public allow-list, path-parameter fillers, example bodies, known problems)
lives in the test module; this module only does the walking.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

import anyio.from_thread
import httpx
import pyotp
from fastapi import FastAPI, params
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import Engine, func
from sqlalchemy import select as sa_select
from sqlmodel import Session, select
from starlette.routing import Mount, Route

from api.accounts.models import Membership, OneTimeToken, User
from api.accounts.roles import PLATFORM_ROLES, TRUST_ROLES
from api.accounts.sessions import issue_api_token, start_web_session
from api.accounts.tokens import new_secret, secret_hash
from api.actions.models import Action, ActionCriterion, ActionNote
from api.assessments.models import (
    Assessment,
    ConsensusRating,
    Cycle,
    Evidence,
    EvidenceFileContent,
    MemberResponse,
    Rating,
)
from api.assessments.repository import criteria_of
from api.baf.models import BafRisk
from api.db import metadata, utcnow
from api.deps import get_api_principal, get_page_principal, get_pending_principal
from api.frameworks.models import FrameworkRecord
from tests.conftest import REFERENCE_TABLES
from tests.factories import (
    add_membership,
    api_token,
    bearer,
    csrf_from,
    make_cycle,
    make_user,
    organisation,
    sign_in,
)

ALL_ROLES = TRUST_ROLES + PLATFORM_ROLES
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Where a page sends someone who is not (fully) signed in: a redirect there is a refusal.
SIGN_IN_PAGES = ("/sign-in", "/sign-in/two-factor", "/account/two-factor/set-up")
# A tiny file the evidence check accepts (it reads the first bytes, not the name).
PDF_BYTES = b"%PDF-1.4\n% route walk evidence\n%%EOF\n"
Side = Literal["own", "other"]

# --- Routes and their rules ----------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """Who a route lets through, as its dependencies declare it.

    kind: "trust" (roles on the board of the trust in the path), "platform" (platform roles),
    "signed_in" (anyone signed in). page: the session cookie (True) or a bearer token (False).
    """

    kind: Literal["trust", "platform", "signed_in"]
    roles: frozenset[str]
    page: bool
    declared_by: str

    def __str__(self) -> str:
        roles = ", ".join(sorted(self.roles)) or "anyone signed in"
        return f"{self.kind} rule ({roles}; {'page' if self.page else 'API'}) from {self.declared_by}"


class UnclearRule(Exception):
    """The dependencies say something the walker cannot turn into expectations."""


# The dependencies that mean "anyone signed in", and whether they read the session cookie (page).
SIGNED_IN_CALLS: dict[Callable[..., Any], bool] = {
    get_page_principal: True,
    get_pending_principal: True,
    get_api_principal: False,
}


def _calls(dependant: Any) -> Iterator[Any]:
    for dependency in dependant.dependencies:
        yield dependency.call
        yield from _calls(dependency)


def rule_of(dependant: Any) -> Rule | None:
    """The route's rule from its dependency tree; None when nothing in it asks who is calling."""
    if dependant is None:
        return None
    role_rules: list[Rule] = []
    signed_in: list[Rule] = []
    for call in _calls(dependant):
        roles = getattr(call, "allowed_roles", None)
        if roles is not None:
            roles = frozenset(roles)
            name = f"{type(call).__name__}({', '.join(sorted(roles))})"
            if roles and roles <= set(TRUST_ROLES):
                kind: Literal["trust", "platform"] = "trust"
            elif roles and roles <= set(PLATFORM_ROLES):
                kind = "platform"
            else:
                raise UnclearRule(f"{name} mixes trust and platform roles (or has none)")
            if not isinstance(getattr(call, "page", None), bool):
                raise UnclearRule(f"{name} does not say whether it is for pages (`page`)")
            role_rules.append(Rule(kind, roles, call.page, name))
        else:
            # By identity: a dependency may be an object that cannot be hashed.
            for known, page in SIGNED_IN_CALLS.items():
                if call is known:
                    signed_in.append(Rule("signed_in", frozenset(), page, known.__name__))
    if role_rules:
        kinds = {r.kind for r in role_rules}
        pages = {r.page for r in role_rules}
        if len(kinds) > 1 or len(pages) > 1:
            raise UnclearRule(f"several role rules that disagree: {', '.join(map(str, role_rules))}")
        # Every rule must pass: the roles let through are those all of them allow.
        roles = frozenset.intersection(*(r.roles for r in role_rules))
        if not roles:
            raise UnclearRule(f"role rules that nobody passes together: {', '.join(map(str, role_rules))}")
        return Rule(
            role_rules[0].kind, roles, role_rules[0].page, " + ".join(r.declared_by for r in role_rules)
        )
    if signed_in:
        pages = {r.page for r in signed_in}
        if len(pages) > 1:
            raise UnclearRule("both a session-cookie and a bearer-token principal")
        return signed_in[0]
    return None


@dataclass(frozen=True)
class Endpoint:
    """One method of one route, as the app serves it (prefixes included)."""

    method: str
    path: str
    is_api_route: bool
    dependant: Any = field(compare=False, repr=False)
    body_params: tuple[Any, ...] = field(compare=False, repr=False)
    body_annotation: Any = field(compare=False, repr=False)
    required_query: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)(?::\w+)?}", self.path)

    @property
    def unsafe(self) -> bool:
        return self.method in UNSAFE_METHODS

    @property
    def looks_like_api(self) -> bool:
        return self.path.startswith("/api/")

    def rule(self) -> Rule | None:
        return rule_of(self.dependant)


def _required_query(dependant: Any) -> Iterator[str]:
    for param in dependant.query_params:
        if param.field_info.is_required():
            yield param.alias or param.name
    for dependency in dependant.dependencies:
        yield from _required_query(dependency)


@dataclass(frozen=True)
class Walk:
    endpoints: list[Endpoint]
    mounts: list[str]


def walk_routes(app: FastAPI) -> Walk:
    """Every (path, method) the app answers, however deeply its routers are included.

    FastAPI 0.137+ keeps an included router as one node in `app.routes`; `iter_route_contexts`
    is its public way to see each route with its full path and every dependency of the
    routers it sits in (the CSRF check, for instance).
    """
    endpoints: list[Endpoint] = []
    mounts: list[str] = []
    for context in iter_route_contexts(app.routes):
        original = context.original_route
        if isinstance(original, Mount):
            mounts.append(context.path)
            continue
        if isinstance(original, APIRoute):
            body_field = context.body_field
            for method in sorted(context.methods):
                endpoints.append(
                    Endpoint(
                        method=method,
                        path=context.path,
                        is_api_route=True,
                        dependant=context.dependant,
                        body_params=tuple(context.dependant.body_params),
                        body_annotation=body_field.field_info.annotation if body_field else None,
                        required_query=tuple(dict.fromkeys(_required_query(context.dependant))),
                    )
                )
            continue
        if isinstance(original, Route):
            # Starlette routes FastAPI adds itself (/openapi.json, /docs): no dependencies to read.
            methods = set(original.methods or {"GET"})
            if "GET" in methods:
                methods.discard("HEAD")  # HEAD is the same handler as GET
            for method in sorted(methods):
                endpoints.append(Endpoint(method, context.path, False, None, (), None))
            continue
        raise AssertionError(f"a route of a kind the walker does not know: {original!r}")
    return Walk(endpoints, mounts)


# --- Example bodies ------------------------------------------------------------------------------


class NoExample(Exception):
    pass


@dataclass(frozen=True)
class Body:
    kind: Literal["none", "json", "form"]
    values: dict[str, Any]
    files: dict[str, tuple[str, bytes, str]]


def _from_schema(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "$ref" in schema:
        return _from_schema(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    for key in ("default", "const"):
        if key in schema:
            return schema[key]
    if "enum" in schema:
        return schema["enum"][0]
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"] or schema["anyOf"]
        return _from_schema(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        required = set(schema.get("required", []))
        properties = schema.get("properties", {})
        return {name: _from_schema(sub, defs) for name, sub in properties.items() if name in required}
    if kind == "string":
        if "pattern" in schema:
            raise NoExample(f"a string that must match {schema['pattern']!r}")
        if schema.get("format") == "email":
            return "route.walk@example.org"
        if schema.get("format") == "date":
            return (date.today() + timedelta(days=90)).isoformat()
        if schema.get("format") == "date-time":
            return (utcnow() + timedelta(days=90)).isoformat()
        return "Route walk example"[: schema.get("maxLength", 200)].ljust(schema.get("minLength", 1), "x")
    if kind == "integer" or kind == "number":
        if "minimum" in schema:
            return schema["minimum"]
        if "exclusiveMinimum" in schema:
            return schema["exclusiveMinimum"] + 1
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "null":
        return None
    raise NoExample(f"a value of schema {schema!r}")


def example_body(endpoint: Endpoint, examples: dict[str, dict[str, Any]]) -> Body:
    """The request body to send: the hand-written example if there is one, else one generated from
    the body model's required fields; either way checked against the model, so it is valid."""
    if not endpoint.body_params:
        return Body("none", examples.get(endpoint.id, {}), {})
    files = {
        (p.alias or p.name): ("evidence.pdf", PDF_BYTES, "application/pdf")
        for p in endpoint.body_params
        if isinstance(p.field_info, params.File)
    }
    form = all(isinstance(p.field_info, params.Form) for p in endpoint.body_params)
    adapter = TypeAdapter(endpoint.body_annotation)
    if endpoint.id in examples:
        values = examples[endpoint.id]
    else:
        schema = adapter.json_schema()
        try:
            values = _from_schema(schema, schema.get("$defs", {}))
        except NoExample as exc:
            raise NoExample(
                f"{endpoint.id}: cannot make an example body ({exc}): add one to EXAMPLE_BODIES"
            ) from exc
        values = {name: value for name, value in values.items() if name not in files}
    if not files:
        try:
            adapter.validate_python(values)
        except ValidationError as exc:
            raise NoExample(f"{endpoint.id}: the example body is not valid for the route: {exc}") from exc
    return Body("form" if form else "json", dict(values), files)


# --- The world -----------------------------------------------------------------------------------


@dataclass
class Person:
    label: str
    user_id: int
    email: str
    name: str
    page: TestClient
    csrf: str
    token: str


@dataclass
class Trust:
    """One trust's board and its current assessment, with text that must never reach another trust."""

    ods_code: str
    name: str
    organisation_id: int
    assessment_id: int
    previous_assessment_id: int
    membership_id: int  # a NED's membership, for the member pages
    file_evidence_id: int
    link_evidence_id: int
    consensus_id: int
    action_id: int
    secrets: list[str]

    def leaks(self, text: str) -> list[str]:
        """What of this trust appears in `text`: its code (as a word, not inside a random token),
        its name, or any of its secrets."""
        found = [s for s in [self.name, *self.secrets] if s in text]
        if re.search(rf"(?<![A-Za-z0-9_-]){re.escape(self.ods_code)}(?![A-Za-z0-9_-])", text):
            found.append(self.ods_code)
        return found


def _browser(app: FastAPI, portal: anyio.from_thread.BlockingPortal) -> TestClient:
    """A test client of its own (its own cookies) on the walk's one event loop: a client outside a
    `with` block otherwise starts an event loop for every request, which triples the walk's time."""
    client = TestClient(app)
    client.portal = portal
    return client


@dataclass
class World:
    app: FastAPI
    engine: Engine
    portal: anyio.from_thread.BlockingPortal
    api: TestClient  # no cookies that matter: the bearer token is the only credential
    trusts: dict[str, Trust]
    people: dict[tuple[str | None, str], Person]
    framework_key: str
    cycle_name: str
    section_key: str
    criterion_key: str
    invitation_token: str
    reset_token: str
    _counter: int = 0
    _kept: dict[tuple[str, bool], Person] = field(default_factory=dict)

    def trust(self, side: Side) -> Trust:
        return self.trusts[side]

    def person(self, side: Side | None, role: str) -> Person:
        """A trust role at the own or other trust; a platform role (side None)."""
        if role in PLATFORM_ROLES:
            return self.people[(None, role)]
        assert side is not None
        return self.people[(self.trust(side).ods_code, role)]

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    # Requests that change things (POST, PUT, PATCH, DELETE) get objects of their own: one let through
    # by mistake, or by design in check 4, then removes or changes nothing another test relies on.

    def fresh_membership(self, side: Side) -> int:
        """A new invited NED of the trust."""
        n = self._next()
        trust = self.trust(side)
        with Session(self.engine, expire_on_commit=False) as db:
            user = User(
                email=f"spare.{n}@{trust.ods_code.lower()}.walk.example",
                name=f"Spare Member {n}",
                password_hash=None,
            )
            db.add(user)
            db.flush()
            membership = Membership(
                user_id=user.id, organisation_id=trust.organisation_id, role="board_member", board_role="ned"
            )
            db.add(membership)
            db.commit()
            assert membership.id is not None
            return membership.id

    def fresh_evidence(self, side: Side) -> int:
        """A new link on the agreed rating that holds the trust's evidence."""
        n = self._next()
        with Session(self.engine, expire_on_commit=False) as db:
            evidence = Evidence(
                consensus_rating_id=self.trust(side).consensus_id,
                kind="link",
                title=f"Spare link {n}",
                url=f"https://example.org/spare/{n}",
            )
            db.add(evidence)
            db.commit()
            assert evidence.id is not None
            return evidence.id

    def fresh_action(self, side: Side) -> int:
        """A new action on the trust's assessment."""
        n = self._next()
        trust = self.trust(side)
        with Session(self.engine, expire_on_commit=False) as db:
            action = Action(
                assessment_id=trust.assessment_id,
                organisation_id=trust.organisation_id,
                title=f"Spare action {n}",
                due_date=date.today() + timedelta(days=90),
            )
            db.add(action)
            db.commit()
            assert action.id is not None
            return action.id

    def fresh_platform_user(self) -> int:
        """A new sector analyst (never signed in), for a request that may take the role away."""
        n = self._next()
        with Session(self.engine, expire_on_commit=False) as db:
            user = make_user(
                db, f"spare.{n}.analyst@platform.walk.example", platform_role="sector_analyst", password=None
            )
            assert user.id is not None
            return user.id

    def nobody(self) -> Person:
        """A new browser that has not signed in: it has only the CSRF cookie any visitor gets.
        (New each time: signing out, a public route, changes a browser's CSRF cookie.)"""
        client = _browser(self.app, self.portal)
        csrf = csrf_from(client.get("/sign-in").text)
        return Person("nobody", 0, "", "", client, csrf, "")

    def fresh_person(self, role: str, *, page: bool) -> Person:
        """Someone new with `role` (at the own trust for a trust role), for a request that may change
        their own account. Their session or token comes straight from the session service, as
        the sign-in page would make it: signing in through the pages (argon2, TOTP) for each
        would make the walk slow."""
        n = self._next()
        with Session(self.engine, expire_on_commit=False) as db:
            if role in PLATFORM_ROLES:
                user = make_user(db, f"fresh.{n}.{role}@walk.example", platform_role=role, password=None)
                user.totp_secret = pyotp.random_base32()
                user.totp_enabled_at = utcnow()
                db.add(user)
                db.commit()
            else:
                user = make_user(
                    db,
                    f"fresh.{n}.{role}@own.walk.example",
                    role=role,
                    trust=self.trust("own").ods_code,
                    password=None,
                )
            settings = self.app.state.settings
            if page:
                _web, raw = start_web_session(
                    db, user, settings=settings, client_ip="testclient", second_factor_done=True
                )
                token = ""
            else:
                _token, token = issue_api_token(
                    db, user, settings, second_factor_at=utcnow() if user.totp_enabled_at else None
                )
                raw = ""
            db.commit()
            person_id, email, name = user.id, user.email, user.name
        assert person_id is not None
        client = _browser(self.app, self.portal)
        csrf = ""
        if page:
            client.cookies.set(settings.session_cookie_name, raw)
            csrf = _csrf_of_signed_in(client)
        return Person(f"fresh {role}", person_id, email, name, client, csrf, token)

    def kept_person(self, role: str, *, page: bool) -> Person:
        """Like fresh_person, but made once per role and kept: for requests that act on the trust
        (or the platform), never on the caller's own account."""
        key = (role, page)
        if key not in self._kept:
            self._kept[key] = self.fresh_person(role, page=page)
        return self._kept[key]


def _csrf_of_signed_in(client: TestClient) -> str:
    response = client.get("/account/password", follow_redirects=False)
    assert response.status_code == 200, f"not signed in: {response.status_code} {response.headers}"
    return csrf_from(response.text)


def cycle_dates(today: date | None = None) -> tuple[date, date]:
    """2026/27's dates, widened to include today so the cycle is open whatever the clock says."""
    today = today or date.today()
    return min(date(2026, 4, 1), today - timedelta(days=30)), max(
        date(2027, 3, 31), today + timedelta(days=30)
    )


def _sign_in_person(
    app: FastAPI, portal: anyio.from_thread.BlockingPortal, api: TestClient, user: User, label: str
) -> Person:
    """Signs in through the real pages (and the real token endpoint), with a TOTP code when the
    person has a second factor."""
    client = _browser(app, portal)
    sign_in(client, user.email)
    otp = None
    if user.totp_secret:
        totp = pyotp.TOTP(user.totp_secret)
        page = client.get("/sign-in/two-factor")
        response = client.post(
            "/sign-in/two-factor",
            data={"code": totp.now(), "csrf_token": csrf_from(page.text)},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        # A code works once: the token endpoint gets the next 30-second step's.
        otp = totp.at(time.time() + 30)
    token = api_token(api, user.email, otp=otp)
    assert user.id is not None
    return Person(label, user.id, user.email, user.name, client, _csrf_of_signed_in(client), token)


def _build_trust(
    db: Session,
    ods_code: str,
    cycle: Cycle,
    previous_cycle: Cycle,
    people: dict[str, User],
    criterion_id: int,
    criterion_key: str,
) -> Trust:
    org = organisation(db, ods_code)
    assert org.id is not None
    tag = ods_code.lower()
    chair = people["chair"]
    spare = make_user(
        db, f"ned.two@{tag}.walk.example", role="board_member", trust=ods_code, name=f"Spare Ned {tag}"
    )
    spare_membership = db.exec(
        select(Membership).where(Membership.user_id == spare.id, Membership.organisation_id == org.id)  # type: ignore[arg-type]
    ).one()

    secret = f"Confidential-{tag}-{new_secret()[:8]}"
    previous = Assessment(
        organisation_id=org.id,
        cycle_id=previous_cycle.id,  # type: ignore[arg-type]
        framework_id=previous_cycle.framework_id,
        status="submitted",
        opened_by_id=chair.id,
        submitted_by_id=chair.id,
        submitted_at=utcnow() - timedelta(days=200),
    )
    current = Assessment(
        organisation_id=org.id,
        cycle_id=cycle.id,  # type: ignore[arg-type]
        framework_id=cycle.framework_id,
        opened_by_id=chair.id,
    )
    db.add_all([previous, current])
    db.flush()
    db.add(
        ConsensusRating(
            assessment_id=previous.id,  # type: ignore[arg-type]
            criterion_id=criterion_id,
            level=3,
            rationale=f"{secret} last year's rationale",
            updated_by_id=chair.id,
        )
    )
    for role, level in (("chair", 2), ("board_member", 3)):
        db.add(
            Rating(
                assessment_id=current.id,  # type: ignore[arg-type]
                respondent_id=people[role].id,  # type: ignore[arg-type]
                criterion_id=criterion_id,
                level=level,
                comment=f"{secret} comment by the {role}",
            )
        )
        db.add(
            MemberResponse(
                assessment_id=current.id,  # type: ignore[arg-type]
                respondent_id=people[role].id,  # type: ignore[arg-type]
                board_role="chair" if role == "chair" else "ned",
                headline_score=6,
            )
        )
    consensus = ConsensusRating(
        assessment_id=current.id,  # type: ignore[arg-type]
        criterion_id=criterion_id,
        level=2,
        rationale=f"{secret} agreed rationale",
        updated_by_id=chair.id,
    )
    db.add(consensus)
    db.flush()
    stored_name = f"walk-{tag}-{new_secret()[:12]}.pdf"
    file_evidence = Evidence(
        consensus_rating_id=consensus.id,  # type: ignore[arg-type]
        kind="file",
        title=f"{secret} board paper.pdf",
        stored_name=stored_name,
        content_type="application/pdf",
        size_bytes=len(PDF_BYTES),
        added_by_id=chair.id,
    )
    link_evidence = Evidence(
        consensus_rating_id=consensus.id,  # type: ignore[arg-type]
        kind="link",
        title=f"{secret} annual report",
        url=f"https://example.org/{secret}/report",
        added_by_id=chair.id,
    )
    db.add_all([file_evidence, link_evidence])
    db.flush()
    db.add(EvidenceFileContent(evidence_id=file_evidence.id, data=PDF_BYTES))
    action = Action(
        assessment_id=current.id,  # type: ignore[arg-type]
        organisation_id=org.id,
        title=f"{secret} action",
        description=f"{secret} what the board will do",
        owner=people["board_member"].name,
        due_date=date.today() + timedelta(days=90),
        created_by_id=chair.id,
    )
    db.add(action)
    db.flush()
    db.add(ActionCriterion(action_id=action.id, criterion_key=criterion_key))  # type: ignore[arg-type]
    db.add(
        ActionNote(
            action_id=action.id,  # type: ignore[arg-type]
            text=f"{secret} progress note",
            noted_on=date.today(),
            author_id=chair.id,
        )
    )
    db.add(
        BafRisk(
            organisation_id=org.id,
            cycle_id=cycle.id,  # type: ignore[arg-type]
            description=f"{secret} principal race equality risk",
            lead=people["chair"].name,
            inherent_likelihood=4,
            inherent_consequence=4,
            residual_likelihood=3,
            residual_consequence=3,
            target_likelihood=2,
            target_consequence=2,
            controls=[f"{secret} control"],
            assurances=[{"line": 1, "source": f"{secret} assurance"}],
            gaps=[{"kind": "control", "text": f"{secret} gap", "action_ids": [action.id]}],
            updated_by_id=chair.id,
        )
    )
    db.commit()
    everyone = [*people.values(), spare]
    return Trust(
        ods_code=org.ods_code,
        name=org.name,
        organisation_id=org.id,
        assessment_id=current.id,  # type: ignore[arg-type]
        previous_assessment_id=previous.id,  # type: ignore[arg-type]
        membership_id=spare_membership.id,  # type: ignore[arg-type]
        file_evidence_id=file_evidence.id,  # type: ignore[arg-type]
        link_evidence_id=link_evidence.id,  # type: ignore[arg-type]
        consensus_id=consensus.id,  # type: ignore[arg-type]
        action_id=action.id,  # type: ignore[arg-type]
        # The secret is in every rating, rationale and evidence title; names and emails of its people.
        secrets=[secret, *(u.name for u in everyone), *(u.email for u in everyone)],
    )


def _one_time_link(db: Session, user: User, purpose: str, organisation_id: int | None) -> str:
    raw = new_secret()
    db.add(
        OneTimeToken(
            token_hash=secret_hash(raw),
            purpose=purpose,
            user_id=user.id,  # type: ignore[arg-type]
            organisation_id=organisation_id,
            expires_at=utcnow() + timedelta(hours=24),
        )
    )
    db.commit()
    return raw


@contextmanager
def world_of(app: FastAPI, engine: Engine, own: str, other: str) -> Iterator[World]:
    """The world, with the event loop its requests run on (stopped when it is done with)."""
    with anyio.from_thread.start_blocking_portal() as portal:
        yield build_world(app, engine, portal, own, other)


def build_world(
    app: FastAPI,
    engine: Engine,
    portal: anyio.from_thread.BlockingPortal,
    own: str,
    other: str,
) -> World:
    """Two trusts, each with a chair, a NED, a board secretary and a spare NED; a sector analyst and a
    platform admin (second factor on, members of no trust); this year's and last year's cycle; each
    trust's open assessment with ratings, a consensus and two pieces of evidence; an invitation and a
    password-reset link. Everyone is signed in, in a browser of their own, and has an API token."""
    api = _browser(app, portal)
    with Session(engine, expire_on_commit=False) as db:
        opens, closes = cycle_dates()
        cycle = make_cycle(db, "2026/27", opens, closes)
        previous_cycle = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
        users: dict[tuple[str | None, str], User] = {}
        for code in (own, other):
            tag = code.lower()
            for role, title in (
                ("chair", "Chair"),
                ("board_member", "Ned"),
                ("board_secretary", "Secretary"),
            ):
                users[(code, role)] = make_user(
                    db, f"{role}@{tag}.walk.example", role=role, trust=code, name=f"{title} Person {tag}"
                )
        for role in PLATFORM_ROLES:
            user = make_user(db, f"{role}@platform.walk.example", platform_role=role)
            user.totp_secret = pyotp.random_base32()
            user.totp_enabled_at = utcnow()
            db.add(user)
            db.commit()
            users[(None, role)] = user

        # A criterion that applies to both trusts (some apply only to some kinds of trust).
        probes = [
            Assessment(
                organisation_id=organisation(db, code).id, cycle_id=cycle.id, framework_id=cycle.framework_id
            )  # type: ignore[arg-type]
            for code in (own, other)
        ]
        other_keys = {c.key for _s, c in criteria_of(db, probes[1])}
        section, criterion = next((s, c) for s, c in criteria_of(db, probes[0]) if c.key in other_keys)
        assert criterion.id is not None

        trusts = {}
        for side, code in (("own", own), ("other", other)):
            people = {role: users[(code, role)] for role in TRUST_ROLES}
            trusts[side] = _build_trust(db, code, cycle, previous_cycle, people, criterion.id, criterion.key)

        invited = User(email=f"invited@{own.lower()}.walk.example", name="Invited Person", password_hash=None)
        db.add(invited)
        db.commit()
        add_membership(db, invited, own, "board_member")
        invitation_token = _one_time_link(db, invited, "invitation", trusts["own"].organisation_id)
        reset_token = _one_time_link(db, users[(own, "board_member")], "password_reset", None)
        framework = db.get(FrameworkRecord, cycle.framework_id)
        assert framework is not None
        framework_key = framework.key
        section_key, criterion_key = section.key, criterion.key
    # Signed in with the database session closed: it holds no lock the app could wait for.
    persons = {
        key: _sign_in_person(app, portal, api, user, f"{key[0] or 'platform'} {key[1]}")
        for key, user in users.items()
    }
    return World(
        app=app,
        engine=engine,
        portal=portal,
        api=api,
        trusts=trusts,
        people=persons,
        framework_key=framework_key,
        cycle_name=cycle.name,
        section_key=section_key,
        criterion_key=criterion_key,
        invitation_token=invitation_token,
        reset_token=reset_token,
    )


# --- Requests ------------------------------------------------------------------------------------


def send(
    world: World,
    endpoint: Endpoint,
    url: str,
    body: Body,
    who: Person,
    *,
    page: bool,
    csrf: bool = True,
    token: str | None = None,
) -> httpx.Response:
    """The request a browser (page) or an API client would send as `who`."""
    kwargs: dict[str, Any] = {"follow_redirects": False}
    if page:
        client = who.page
        if endpoint.unsafe:
            data = {key: str(value) for key, value in body.values.items()}
            if csrf:
                data["csrf_token"] = who.csrf
            kwargs["data"] = data
            if body.files:
                kwargs["files"] = body.files
    else:
        client = world.api
        bearer_token = token if token is not None else who.token
        if bearer_token:
            kwargs["headers"] = bearer(bearer_token)
        if body.kind == "json":
            kwargs["json"] = body.values
        elif body.kind == "form":
            kwargs["data"] = {key: str(value) for key, value in body.values.items()}
            if body.files:
                kwargs["files"] = body.files
    return client.request(endpoint.method, url, **kwargs)


def describe(response: httpx.Response) -> str:
    location = response.headers.get("location")
    text = response.text
    return f"{response.status_code}" + (f" -> {location}" if location else "") + f": {text[:300]!r}"


def refused_as_signed_out(response: httpx.Response) -> bool:
    """A redirect to sign in (or to the second factor), unless that page is the one asked for."""
    target = response.headers.get("location", "").split("?")[0]
    return (
        response.status_code in (302, 303, 307)
        and target in SIGN_IN_PAGES
        and target != response.request.url.path
    )


# --- The database, before and after -------------------------------------------------------------

# Changed by reading a page (a session's last activity), not by anything a refusal must not do.
IGNORED_COLUMNS = {"web_session": {"last_seen_at"}}
# Never changed by any route: not worth reading every time.
STATIC_TABLES = set(REFERENCE_TABLES) - {"organisation"}
# Only ever added to: how many rows and the newest id say whether anything was written.
APPEND_ONLY_TABLES = {"audit_event", "outbox_email", "sign_in_attempt"}


def fingerprint(engine: Engine) -> dict[str, list[str]]:
    """Every row of every table a route could change (as text: some columns hold JSON)."""
    rows: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name in STATIC_TABLES:
                continue
            if table.name in APPEND_ONLY_TABLES:
                (key,) = table.primary_key.columns
                statement = sa_select(func.count(), func.max(key))
            else:
                columns = [c for c in table.columns if c.name not in IGNORED_COLUMNS.get(table.name, set())]
                statement = sa_select(*columns).order_by(*table.primary_key.columns)
            rows[table.name] = [repr(tuple(row)) for row in conn.execute(statement)]
    return rows


def differences(before: dict[str, list[str]], after: dict[str, list[str]]) -> str:
    lines = []
    for name in before:
        old, new = set(before[name]), set(after[name])
        if old != new:
            lines.append(f"{name}: added {sorted(new - old)[:3]}, removed {sorted(old - new)[:3]}")
    return "; ".join(lines)
