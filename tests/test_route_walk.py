"""One walk over every route of the app: nobody gets in without signing in, another trust's objects
answer 404 with none of their data, a role without the right answers 403.

The routes come from the app itself (`app.routes`), and each route's rule from its dependency tree:
a dependency carrying `allowed_roles` (trust_role, assessment_role, platform_role) gives the roles
and whether it is a page (session cookie) or the API (bearer token); PageUser, PendingPageUser and
CurrentUser mean anyone signed in. So a new route is walked without anyone adding it here, and:

- a route that is not in PUBLIC_ROUTES and declares no rule fails ("add a role dependency");
- a path parameter the walker cannot fill fails, naming it (add it to FILLERS);
- a body the walker cannot make fails, naming the route (add it to EXAMPLE_BODIES).

The checks, each its own test per (method, path):

1. Not signed in: the API answers 401 with `WWW-Authenticate: Bearer` (no token, or a made-up
   one); a page redirects (303) to /sign-in?next=<the page>. A page POST without a CSRF token may
   instead be refused 403 by the CSRF check; with a valid (anonymous) token it must redirect.
2. Another trust's object: a member of the other trust in each role the route allows, with the
   own trust's ids in the path, gets 404 and a body with none of the own trust's code, name,
   people or assessment text: the very answer they get for an id that names nothing, so not even
   the object's existence is confirmed. Routes with two trust-scoped ids are also tried with one
   id of the own trust and the rest the caller's own (their trust, a member or evidence of ours).
3. A role without the right: each trust role the route does not allow, at the own trust, gets 403.
   Sector analysts and platform admins are members of no trust, so on a trust's route they get
   404, the same answer as any non-member (the trust's existence is not confirmed); on a platform
   route a platform role not allowed gets 403.
4. The allowed roles get through: each, as someone the walk adds to the own trust (or a platform
   user it makes), gets neither 401, 403, 404, a redirect to sign in, nor a 5xx. A 409 or 422 is
   fine: the example body may be refused on business grounds (a stale version, nothing to submit
   yet). This catches a service that refuses a role its route's dependency lets through.

Checks 1-3 also assert that the database did not change at all, and every POST, PUT, PATCH and
DELETE is sent for objects made for it, so a request let through by mistake spoils no other test.
Public routes are asked once, not signed in, and must answer without asking anyone to sign in.

What the walk cannot see: a rule declared more loosely than intended (trust_role() where
trust_role("chair") was meant) is walked as declared. Review the role dependencies themselves.

The world is built once for the module (the function-scoped `clean_database` would empty it after
every test) and emptied at the end.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal
from urllib.parse import quote, urlencode

import pytest
from sqlalchemy.engine import make_url

from api.accounts.roles import PLATFORM_ROLES
from api.db import make_engine
from api.main import create_app
from api.settings import Settings
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET, empty_tables
from tests.factories import PASSWORD
from tests.route_walk_support import (
    ALL_ROLES,
    Body,
    Endpoint,
    NoExample,
    Rule,
    Side,
    UnclearRule,
    World,
    describe,
    differences,
    example_body,
    fingerprint,
    refused_as_signed_out,
    send,
    walk_routes,
    world_of,
)

OWN = "RCF"  # Airedale NHS Foundation Trust: the trust whose objects are in the path
OTHER = "RBS"  # Alder Hey Children's NHS Foundation Trust: the trust next door

# --- Public routes: the only ones anyone may use without signing in ------------------------------

PUBLIC_ROUTES: dict[str, str] = {
    "GET /": "the start page: what the service is, for anyone",
    "GET /about": "about the service and how figures are kept anonymous",
    "GET /accessibility": "the accessibility statement, which public sector sites must publish",
    "GET /healthz": "the load balancer's health check: says only whether the database answers",
    "GET /readyz": "the load balancer's readiness check: whether the database answers and is migrated",
    "GET /metrics": "Prometheus figures: 404 unless from METRICS_ALLOWED_IPS or with METRICS_TOKEN",
    "GET /sign-in": "the sign-in page itself",
    "POST /sign-in": "signing in (CSRF-checked, throttled)",
    "POST /sign-out": "signing out: without a session it only clears the cookies (CSRF-checked)",
    "GET /signed-out": "the page after signing out",
    "GET /sign-in/oidc": "single sign-on: off to the provider (404 unless configured)",
    "GET /sign-in/oidc/callback": "single sign-on: back from the provider; state, code and ID token checked",
    "GET /forgot-password": "asking for a reset link, for people who cannot sign in",
    "POST /forgot-password": "the same answer whether or not the account exists",
    "GET /reset-password/{token}": "the emailed link is the credential (404 or 410 without a live one)",
    "POST /reset-password/{token}": "the emailed link is the credential (404 or 410 without a live one)",
    "GET /invitation/{token}": "the emailed invitation is the credential, before any password exists",
    "POST /invitation/{token}": "the emailed invitation is the credential, before any password exists",
    "POST /api/v1/auth/token": "the API's sign-in (OAuth2 password flow, throttled)",
    "GET /api/v1/frameworks": "the questions are published: nothing about any trust's answers",
    "GET /api/v1/frameworks/{key}": "the questions are published: nothing about any trust's answers",
    "GET /api/v1/organisations": "the NHS trust list is public ODS reference data",
    "GET /openapi.json": "the API's description (FastAPI's own route)",
    "GET /docs": "the API's documentation page (FastAPI's own route)",
    "GET /docs/oauth2-redirect": "the documentation page's sign-in helper (FastAPI's own route)",
}
# Mounted apps the walker cannot look inside: only static files may be mounted.
PUBLIC_MOUNTS = {
    "/static": "the service's CSS, JavaScript and images",
    "/assets": "the NHS.UK frontend's icons and fonts",
}

# --- Path parameters: what to put in each, for the own trust, the other, or a fresh object ---------

NO_SUCH_ID = 2_000_000_000  # fits any integer column, and no walk makes that many rows


@dataclass(frozen=True)
class Filler:
    """A value for a path parameter: value(world, side, fresh), where side is "own" (the trust whose
    objects are walked) or "other", and fresh asks for a new object, made for a request that may
    change or remove it (every POST, PUT, PATCH and DELETE gets one, so nothing a request does by
    mistake, or by design in check 4, spoils another test). trust_scoped: the value belongs to one
    trust, so another trust's member must get 404 for it, the very answer they get for `missing`,
    a value that names nothing at all."""

    value: Callable[[World, Side, bool], object]
    trust_scoped: bool
    missing: object = None


FILLERS: dict[str, Filler] = {
    "ods_code": Filler(lambda w, side, fresh: w.trust(side).ods_code, trust_scoped=True, missing="Q9Q"),
    "assessment_id": Filler(
        lambda w, side, fresh: w.trust(side).assessment_id, trust_scoped=True, missing=NO_SUCH_ID
    ),
    "membership_id": Filler(
        lambda w, side, fresh: w.fresh_membership(side) if fresh else w.trust(side).membership_id,
        trust_scoped=True,
        missing=NO_SUCH_ID,
    ),
    # An uploaded file (a link has nothing to download); a new link when it may be removed.
    "evidence_id": Filler(
        lambda w, side, fresh: w.fresh_evidence(side) if fresh else w.trust(side).file_evidence_id,
        trust_scoped=True,
        missing=NO_SUCH_ID,
    ),
    "action_id": Filler(
        lambda w, side, fresh: w.fresh_action(side) if fresh else w.trust(side).action_id,
        trust_scoped=True,
        missing=NO_SUCH_ID,
    ),
    # Someone with a platform role (platform admins manage them; they belong to no trust).
    "user_id": Filler(
        lambda w, side, fresh: w.fresh_platform_user() if fresh else w.person(None, "sector_analyst").user_id,
        trust_scoped=False,
    ),
    "section_key": Filler(lambda w, side, fresh: w.section_key, trust_scoped=False),
    "criterion_key": Filler(lambda w, side, fresh: w.criterion_key, trust_scoped=False),
}
# Parameters whose name says too little to fill by name alone.
PATH_FILLERS: dict[tuple[str, str], Filler] = {
    ("/invitation/{token}", "token"): Filler(lambda w, side, fresh: w.invitation_token, trust_scoped=False),
    ("/reset-password/{token}", "token"): Filler(lambda w, side, fresh: w.reset_token, trust_scoped=False),
    ("/api/v1/frameworks/{key}", "key"): Filler(lambda w, side, fresh: w.framework_key, trust_scoped=False),
}
# Query parameters a route requires, by name (a required one with no filler fails, naming it).
QUERY_FILLERS: dict[str, Callable[[World], str]] = {
    "cycle": lambda w: w.cycle_name,
}


def _rating_form(w: World) -> dict[str, str]:
    key = w.criterion_key
    return {f"level__{key}": "3", f"comment__{key}": "Walked", f"version__{key}": "0"}


def _action_form(w: World) -> dict[str, str]:
    due = date.today() + timedelta(days=90)
    return {
        "title": "Walked action",
        "due_date_day": str(due.day),
        "due_date_month": str(due.month),
        "due_date_year": str(due.year),
        "status": "in_progress",
        "version": "1",
    }


# Bodies for routes whose body cannot be made from the model alone (patterns, dynamic field names),
# or where a made-up one would do harm. Any other body is made from the model's required fields.
# Check 4 sends these as an allowed role, so none may change what later checks rely on.
EXAMPLE_BODIES: dict[str, dict[str, Any] | Callable[[World], dict[str, Any]]] = {
    "POST /api/v1/auth/token": {"username": f"board_member@{OWN.lower()}.walk.example", "password": PASSWORD},
    "POST /api/v1/organisations/{ods_code}/members": {
        "email": "api.invite@walk.example",
        "name": "Api Invite",
        "role": "board_member",
        "board_role": "ned",
    },
    "PATCH /api/v1/organisations/{ods_code}/members/{membership_id}": {
        "role": "board_member",
        "board_role": "executive",
    },
    "POST /api/v1/organisations/{ods_code}/assessments": {"cycle": "2026/27"},  # already open: 409
    "PUT /api/v1/assessments/{assessment_id}/ratings/{criterion_key}": {
        "level": 3,
        "comment": "",
        "version": 0,
    },
    "PUT /api/v1/assessments/{assessment_id}/headline": {"score": 7, "version": 0},
    # Version 0 is stale (the agreed rating exists): 409, so the trust's rationale is kept.
    "PUT /api/v1/assessments/{assessment_id}/consensus/{criterion_key}": {
        "level": 3,
        "rationale": "",
        "version": 0,
    },
    "POST /api/v1/assessments/{assessment_id}/consensus/{criterion_key}/links": {
        "title": "Walked link",
        "url": "https://example.org/walk",
    },
    "POST /api/v1/admin/assessments/{assessment_id}/reopen": {"reason": "Route walk"},  # not submitted: 409
    # Version 0 is stale (a cycle starts at 1): 409, so the walk's year stays open.
    "POST /api/v1/admin/cycles/close": {"cycle": "2026/27", "version": 0},
    "POST /admin/cycles/close": {"cycle": "2026/27", "version": "0"},
    "POST /trusts/{ods_code}/members/invite": {
        "email": "page.invite@walk.example",
        "name": "Page Invite",
        "role": "board_member",
        "board_role": "ned",
    },
    "POST /trusts/{ods_code}/members/{membership_id}/role": {
        "role": "board_member",
        "board_role": "executive",
    },
    # "yes" would change the organisation table, which outlives this module.
    "POST /trusts/{ods_code}/settings": {"require_two_factor": "no"},
    "POST /trusts/switch": {"ods_code": OWN},
    "POST /trusts/{ods_code}/assessments": {"cycle": "2026/27"},
    "POST /assessments/{assessment_id}/headline": {"score": "7", "version": "0"},
    "POST /assessments/{assessment_id}/sections/{section_key}": _rating_form,
    "POST /assessments/{assessment_id}/ratings/{criterion_key}": _rating_form,
    "POST /assessments/{assessment_id}/consensus/{section_key}/{criterion_key}": {
        "level": "3",
        "rationale": "",
        "version": "0",
    },
    "POST /assessments/{assessment_id}/consensus/{section_key}/{criterion_key}/links": {
        "title": "Walked link",
        "url": "https://example.org/walk",
    },
    "POST /admin/assessments/{assessment_id}/reopen": {"reason": "Route walk"},
    "POST /api/v1/assessments/{assessment_id}/actions/suggested": lambda w: {
        "criterion": w.criterion_key,
        "index": 0,
    },
    "PATCH /api/v1/actions/{action_id}": {"version": 1, "status": "in_progress"},
    "POST /assessments/{assessment_id}/actions": _action_form,
    "POST /assessments/{assessment_id}/actions/suggested": lambda w: {
        "criterion": w.criterion_key,
        "index": "0",
    },
    "POST /actions/{action_id}/edit": _action_form,
    "POST /actions/{action_id}/notes": {"text": "Walked note"},
    # Not the person's address (and they have a platform role): 409, so nobody is erased.
    "POST /api/v1/admin/people/{user_id}/erase": {"email": "nobody@walk.example"},
    "POST /admin/people/{user_id}/erase": {"email": "nobody@walk.example"},
}

# --- Known problems: (check, "METHOD /path") -> what is wrong, until the app is fixed ----------------

KNOWN_PROBLEMS: dict[tuple[str, str], str] = {}

# --- The walk ------------------------------------------------------------------------------------

# The routes are read at collection from an app that never touches its database.
_APP = create_app(
    Settings(env="test", database_url="sqlite://", secret_key=TEST_SECRET, frameworks_dir=FRAMEWORKS_DIR)
)
WALK = walk_routes(_APP)
ENDPOINTS = WALK.endpoints


def _rule(endpoint: Endpoint) -> Rule | None:
    try:
        return endpoint.rule()
    except UnclearRule:
        return None


def _trust_scoped(endpoint: Endpoint) -> list[str]:
    """The path parameters naming one trust's objects (unknown ones too, so they fail loudly)."""
    return [
        name
        for name in endpoint.path_params
        if (filler := PATH_FILLERS.get((endpoint.path, name)) or FILLERS.get(name)) is None
        or filler.trust_scoped
    ]


PUBLIC = [e for e in ENDPOINTS if e.id in PUBLIC_ROUTES]
PROTECTED = [e for e in ENDPOINTS if e.id not in PUBLIC_ROUTES]
RULED = [(e, rule) for e in PROTECTED if (rule := _rule(e)) is not None]
CROSS_TRUST = [(e, rule) for e, rule in RULED if rule.kind == "trust" and _trust_scoped(e)]
ROLE_RULED = [(e, rule) for e, rule in RULED if rule.kind != "signed_in"]


def cases(check: str, items: list[Any]) -> list[Any]:
    params = []
    for item in items:
        endpoint = item[0] if isinstance(item, tuple) else item
        values = item if isinstance(item, tuple) else (item,)
        reason = KNOWN_PROBLEMS.get((check, endpoint.id))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
        params.append(pytest.param(*values, id=endpoint.id, marks=marks))
    return params


# --- Fixtures and helpers ------------------------------------------------------------------------


def _without_waiting_for_disk(database_url: str) -> str:
    """On PostgreSQL, commits that do not wait for the disk: the walk commits hundreds of times,
    and nothing here needs to survive a crash. What each transaction sees is unchanged."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    return url.update_query_dict({"options": "-c synchronous_commit=off"}).render_as_string(
        hide_password=False
    )


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = _without_waiting_for_disk(database_url)
    settings = Settings(
        env="test",
        database_url=url,
        secret_key=TEST_SECRET,
        frameworks_dir=FRAMEWORKS_DIR,
    )
    app = create_app(settings)
    # The walk's own reads and writes beside the app, as tests.conftest's `engine` makes them.
    engine = make_engine(url, sqlite_immediate=False)
    try:
        with world_of(app, engine, OWN, OTHER) as world:
            yield world
    finally:
        app.state.engine.dispose()
        empty_tables(engine)
        engine.dispose()


def filler_for(endpoint: Endpoint, name: str) -> Filler:
    filler = PATH_FILLERS.get((endpoint.path, name)) or FILLERS.get(name)
    if filler is None:
        pytest.fail(
            f"{endpoint.id}: the walker has no filler for the path parameter {{{name}}}: "
            "add one to FILLERS in tests/test_route_walk.py"
        )
    return filler


def fill(world: World, endpoint: Endpoint, sides: Side | dict[str, Side | Literal["missing"]]) -> str:
    url = endpoint.path
    for name in endpoint.path_params:
        side = sides if isinstance(sides, str) else sides.get(name, "own")
        filler = filler_for(endpoint, name)
        if side == "missing":
            if filler.missing is None:
                pytest.fail(
                    f"{endpoint.id}: FILLERS[{name!r}] needs a `missing` value (one that names nothing)"
                )
            value = quote(str(filler.missing), safe="")
        else:
            value = quote(str(filler.value(world, side, endpoint.unsafe)), safe="")
        url = re.sub(rf"{{{name}(?::\w+)?}}", value, url)
    query = {}
    for name in endpoint.required_query:
        if name not in QUERY_FILLERS:
            pytest.fail(
                f"{endpoint.id}: the walker has no filler for the required query parameter {name!r}: "
                "add one to QUERY_FILLERS in tests/test_route_walk.py"
            )
        query[name] = QUERY_FILLERS[name](world)
    return f"{url}?{urlencode(query)}" if query else url


def body_for(world: World, endpoint: Endpoint) -> Body:
    examples = {key: value(world) if callable(value) else value for key, value in EXAMPLE_BODIES.items()}
    try:
        return example_body(endpoint, examples)
    except NoExample as exc:
        pytest.fail(str(exc))


def sign_in_url(url: str) -> str:
    return f"/sign-in?next={quote(url, safe='')}"


def roles_in_order(roles: frozenset[str]) -> list[str]:
    return [role for role in ALL_ROLES if role in roles]


def assert_database_unchanged(world: World, before: dict[str, Any], endpoint: Endpoint) -> None:
    changed = differences(before, fingerprint(world.engine))
    assert not changed, f"{endpoint.id}: a refused request changed the database: {changed}"


# --- The walk itself covers every route --------------------------------------------------------


def test_the_walk_finds_every_router() -> None:
    """If FastAPI changes how routes are kept again, the walk must not silently walk nothing."""
    ids = {e.id for e in ENDPOINTS}
    assert len(ids) == len(ENDPOINTS), "a (method, path) appears twice"
    for sentinel in (
        "GET /api/v1/me",
        "GET /trusts/{ods_code}",
        "DELETE /api/v1/organisations/{ods_code}/members/{membership_id}",
        "POST /assessments/{assessment_id}/submit",
        "GET /admin/audit",
    ):
        assert sentinel in ids
    assert len(RULED) >= 60


def test_public_allow_list_names_real_routes() -> None:
    ids = {e.id for e in ENDPOINTS}
    assert not set(PUBLIC_ROUTES) - ids, "PUBLIC_ROUTES lists routes the app no longer has"


def test_only_static_files_are_mounted() -> None:
    assert sorted(WALK.mounts) == sorted(PUBLIC_MOUNTS), (
        "a mounted app's routes cannot be walked: mount only static files, or add routes instead"
    )


@pytest.mark.parametrize("endpoint", cases("covered", ENDPOINTS))
def test_every_route_is_public_or_declares_its_rule(world: World, endpoint: Endpoint) -> None:
    fill(world, endpoint, "own")
    if endpoint.is_api_route:
        body_for(world, endpoint)
    if endpoint.id in PUBLIC_ROUTES:
        return
    try:
        rule = endpoint.rule()
    except UnclearRule as exc:
        pytest.fail(f"{endpoint.id}: the walker cannot read its rule: {exc}")
    if rule is None:
        pytest.fail(
            f"{endpoint.id} is not public and declares no rule: add a role dependency (trust_role, "
            "assessment_role, platform_role, or PageUser / CurrentUser for anyone signed in); if it "
            "really is for everyone, add it to PUBLIC_ROUTES with the reason"
        )
    assert rule.page != endpoint.looks_like_api, (
        f"{endpoint.id}: a {'page (session cookie)' if rule.page else 'bearer-token'} rule on a path "
        f"{'under' if endpoint.looks_like_api else 'outside'} /api/"
    )
    if rule.kind == "trust":
        assert _trust_scoped(endpoint), f"{endpoint.id}: a trust rule, but no trust in the path"


# --- 1. Not signed in ----------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", cases("signed_out", PROTECTED))
def test_not_signed_in_is_refused(world: World, endpoint: Endpoint) -> None:
    rule = _rule(endpoint)
    page = rule.page if rule else not endpoint.looks_like_api
    url = fill(world, endpoint, "own")
    body = body_for(world, endpoint)
    nobody = world.nobody()
    before = fingerprint(world.engine)
    if page:
        if endpoint.unsafe:
            response = send(world, endpoint, url, body, nobody, page=True, csrf=False)
            assert response.status_code == 403 or refused_as_signed_out(response), (
                f"{endpoint.id} without a session or CSRF token: {describe(response)}"
            )
        response = send(world, endpoint, url, body, nobody, page=True)
        assert response.status_code == 303, f"{endpoint.id} without a session: {describe(response)}"
        assert response.headers["location"] == sign_in_url(url)
    else:
        for token in ("", "reb_made-up-token-that-was-never-issued"):
            response = send(world, endpoint, url, body, nobody, page=False, token=token)
            assert response.status_code == 401, f"{endpoint.id} with token {token!r}: {describe(response)}"
            assert response.headers.get("www-authenticate") == "Bearer"
    assert_database_unchanged(world, before, endpoint)


# --- 2. Another trust's object ---------------------------------------------------------------------


def cross_trust_paths(endpoint: Endpoint) -> list[dict[str, Side]]:
    """All the own trust's ids; and, with two or more, each one alone among the caller's own."""
    scoped = _trust_scoped(endpoint)
    variants: list[dict[str, Side]] = [dict.fromkeys(scoped, "own")]
    if len(scoped) > 1:
        variants += [{name: "own" if name == one else "other" for name in scoped} for one in scoped]
    return variants


@pytest.mark.parametrize(("endpoint", "rule"), cases("other_trust", CROSS_TRUST))
def test_another_trusts_object_is_not_found(world: World, endpoint: Endpoint, rule: Rule) -> None:
    body = body_for(world, endpoint)
    own = world.trust("own")
    requests = []
    for role in roles_in_order(rule.roles):
        for sides in cross_trust_paths(endpoint):
            nothing = {name: "missing" if side == "own" else side for name, side in sides.items()}
            caller = world.person("other", role)
            requests.append((caller, fill(world, endpoint, sides), fill(world, endpoint, nothing)))
    before = fingerprint(world.engine)
    problems = []
    for caller, url, url_of_nothing in requests:
        response = send(world, endpoint, url, body, caller, page=rule.page)
        if response.status_code != 404:
            problems.append(f"{caller.label} {endpoint.method} {url}: {describe(response)}")
        if leaked := own.leaks(response.text):
            problems.append(f"{caller.label} {endpoint.method} {url} shows {leaked}")
        # The same answer as for something that does not exist: nothing confirms the object is there.
        nothing = send(world, endpoint, url_of_nothing, body, caller, page=rule.page)
        if (nothing.status_code, nothing.text) != (response.status_code, response.text):
            problems.append(
                f"{caller.label} {endpoint.method} {url}: {describe(response)}, but for nothing "
                f"({url_of_nothing}): {describe(nothing)}"
            )
    assert not problems, f"{endpoint.id} ({rule}):\n" + "\n".join(problems)
    assert_database_unchanged(world, before, endpoint)


# --- 3. A role without the right -------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "rule"), cases("wrong_role", ROLE_RULED))
def test_role_without_the_right_is_refused(world: World, endpoint: Endpoint, rule: Rule) -> None:
    body = body_for(world, endpoint)
    own = world.trust("own")
    requests = [
        (role, world.person("own", role), fill(world, endpoint, "own"))
        for role in roles_in_order(frozenset(ALL_ROLES) - rule.roles)
    ]
    before = fingerprint(world.engine)
    problems = []
    for role, caller, url in requests:
        # A platform role on a trust's route is simply not a member: 404, as for anyone else.
        expected = 404 if rule.kind == "trust" and role in PLATFORM_ROLES else 403
        response = send(world, endpoint, url, body, caller, page=rule.page)
        if response.status_code != expected:
            problems.append(f"{caller.label}: expected {expected}, got {describe(response)}")
        elif expected == 404 and (leaked := own.leaks(response.text)):
            problems.append(f"{caller.label}: the 404 shows {leaked}")
    assert not problems, f"{endpoint.id} ({rule}):\n" + "\n".join(problems)
    assert_database_unchanged(world, before, endpoint)


# --- 4. The allowed roles get through ---------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "rule"), cases("allowed", RULED))
def test_allowed_roles_get_through(world: World, endpoint: Endpoint, rule: Rule) -> None:
    body = body_for(world, endpoint)
    problems = []
    # Anyone signed in: a board member (the least of the trust roles) stands for everyone.
    for role in roles_in_order(rule.roles) or ["board_member"]:
        # Routes for anyone signed in act on the caller's own account (sign out everywhere, the
        # second factor): someone new each time. Others act on a trust: the same person will do.
        if rule.kind == "signed_in":
            caller = world.fresh_person(role, page=rule.page)
        else:
            caller = world.kept_person(role, page=rule.page)
        url = fill(world, endpoint, "own")
        response = send(world, endpoint, url, body, caller, page=rule.page)
        if (
            response.status_code in (401, 403, 404)
            or response.status_code >= 500
            or refused_as_signed_out(response)
        ):
            problems.append(f"{role} {endpoint.method} {url}: {describe(response)}")
    assert not problems, f"{endpoint.id} ({rule}):\n" + "\n".join(problems)


# --- Public routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", cases("public", PUBLIC))
def test_public_route_answers_without_signing_in(world: World, endpoint: Endpoint) -> None:
    url = fill(world, endpoint, "own")
    body = body_for(world, endpoint)
    response = send(world, endpoint, url, body, world.nobody(), page=not endpoint.looks_like_api)
    assert response.status_code < 500, describe(response)
    assert response.status_code not in (401, 403), describe(response)
    assert not refused_as_signed_out(response), describe(response)
