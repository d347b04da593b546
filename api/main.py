"""create_app(): routers, static files, templates, middleware, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from api.accounts.members_routes import router as members_api
from api.accounts.members_views import router as members_pages
from api.accounts.oidc_views import router as oidc_pages
from api.accounts.password_views import router as password_pages
from api.accounts.routes import router as accounts_api
from api.accounts.trust_settings_views import router as trust_settings_pages
from api.accounts.two_factor_views import router as two_factor_pages
from api.accounts.views import router as accounts_pages
from api.actions.action_views import router as action_pages
from api.actions.routes import router as actions_api
from api.actions.views import router as actions_pages
from api.admin.people_views import router as admin_people_pages
from api.admin.routes import router as admin_api
from api.admin.trusts_views import router as admin_trusts_pages
from api.admin.views import router as admin_pages
from api.api_docs import OPENAPI_URL
from api.api_docs import router as api_docs_pages
from api.assessments.consensus_routes import router as consensus_api
from api.assessments.consensus_views import router as consensus_pages
from api.assessments.evidence_views import router as evidence_pages
from api.assessments.headline_views import router as headline_pages
from api.assessments.meeting_views import router as meeting_pages
from api.assessments.rating_window_views import router as rating_window_pages
from api.assessments.routes import router as assessments_api
from api.assessments.signoff_views import router as signoff_pages
from api.assessments.views import router as assessments_pages
from api.audit.routes import router as audit_api
from api.audit.views import router as audit_pages
from api.baf.routes import router as baf_api
from api.baf.views import router as baf_pages
from api.benchmarking.routes import router as benchmarking_api
from api.benchmarking.views import router as benchmarking_pages
from api.body_limit import BodyLimitMiddleware, size_in_words, upload_routes
from api.csrf import CsrfCookieMiddleware, cookie_name
from api.data_protection.routes import router as data_protection_api
from api.data_protection.views import router as data_protection_pages
from api.db import ConnectionGate, make_engine
from api.deps import RedirectTo
from api.errors import ERROR_DESCRIPTIONS, DomainError, ErrorBody, FieldError, error_responses
from api.frameworks.routes import router as frameworks_api
from api.home.views import router as home_pages
from api.indicators.routes import router as indicators_api
from api.indicators.views import router as indicators_pages
from api.observability import ObservabilityMiddleware, count_snapshot_refreshes, metrics_registry
from api.observability import router as observability_routes
from api.organisations.routes import router as organisations_api
from api.organisations.views import router as organisations_pages
from api.reminders.routes import router as reminders_api
from api.reminders.views import router as reminders_pages
from api.reports.rendering import RenderPool
from api.reports.routes import ExportInProgress
from api.reports.routes import router as reports_api
from api.reports.views import router as reports_pages
from api.request_text import refuse_nul_characters
from api.scoring.routes import router as scoring_api
from api.scoring.views import router as scoring_pages
from api.sector.routes import router as sector_api
from api.sector.views import router as sector_pages
from api.security_headers import SecurityHeadersMiddleware
from api.settings import Settings, get_settings
from api.templating import STATIC_DIR, render
from api.urls import path_to

ERROR_TITLES = {
    400: "Sorry, there is a problem with your request",
    401: "You need to sign in",
    403: "You do not have permission to see this page",
    404: "Page not found",
    405: "Sorry, there is a problem with your request",
    409: "This page has changed",
    413: "The file is too large",
    422: "Sorry, there is a problem with your request",
    429: "Too many attempts",
    500: "Sorry, there is a problem with the service",
}


def _wants_json(request: Request) -> bool:
    return (
        request.url.path.startswith("/api/")
        or "application/json" in request.headers.get("accept", "").split(",")[0]
    )


def _error_page(request: Request, status_code: int, message: str | None) -> Response:
    return render(
        request,
        "errors/error.html",
        {
            "page_title": ERROR_TITLES.get(status_code, "Sorry, there is a problem"),
            "status_code": status_code,
            "message": message,
        },
        status_code=status_code,
    )


def _openapi_with_unreadable_bodies(app: FastAPI) -> Callable[[], dict[str, Any]]:
    """FastAPI's schema, plus the 400 it answers for a body it cannot read (bytes that are not
    UTF-8, a broken multipart form) and the 413 for one too large, on every operation that takes
    a body."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = default_openapi()
        settings = app.state.settings
        too_large = (
            f"The body is larger than the service accepts: {size_in_words(settings.max_upload_request_bytes)} "
            f"with a file upload, {size_in_words(settings.max_request_bytes)} otherwise"
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if "requestBody" not in operation:
                    continue
                for status, description in ((400, ERROR_DESCRIPTIONS[400]), (413, too_large)):
                    operation["responses"].setdefault(
                        str(status),
                        {
                            "description": description,
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                            },
                        },
                    )
        schema.setdefault("components", {}).setdefault("schemas", {}).setdefault(
            "ErrorBody", ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        )
        return schema

    return openapi


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engine = make_engine(
        settings.database_url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.render_pool.shutdown()
        engine.dispose()

    app = FastAPI(
        title="Race equality board self-assessment",
        version="1.0",
        description=(
            "A yearly board self-assessment on the ten priorities of NHS Providers' Race 2.0 "
            "report and the board assurance framework."
        ),
        lifespan=lifespan,
        # FastAPI's own pages load Swagger UI from a CDN with an inline script: api/api_docs.py
        # serves a vendored one instead, and only where the settings turn it on.
        openapi_url=OPENAPI_URL if settings.api_docs_enabled else None,
        docs_url=None,
        redoc_url=None,
        # Before anything else reads the request: text with a NUL character is refused (422).
        dependencies=[Depends(refuse_nul_characters)],
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.connection_gate = ConnectionGate(
        min(settings.database_concurrency, settings.database_pool_size + settings.database_max_overflow)
    )

    app.state.render_pool = RenderPool(settings.export_processes)
    app.state.metrics_registry = metrics_registry(engine, app.state.connection_gate)
    count_snapshot_refreshes()
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The NHS.UK stylesheet refers to its icons under /assets.
    app.mount("/assets", StaticFiles(directory=STATIC_DIR / "nhsuk" / "assets"), name="assets")

    # The JSON API first: routes are matched in order, and the busiest requests (autosave) are API
    # ones; no page path starts with /api, so the order changes nothing else.
    # The errors every assessment operation may answer, declared here rather than beside its
    # routes (api/assessments/routes.py, consensus_routes.py): a route's own entry for a status
    # replaces this one.
    app.include_router(assessments_api, responses=error_responses(401, 403, 404, 409, 422))
    app.include_router(consensus_api, responses=error_responses(401, 403, 404, 409, 422))
    app.include_router(reminders_api, responses=error_responses(401, 403, 404))
    app.include_router(sector_api)
    app.include_router(admin_api)
    app.include_router(data_protection_api)
    app.include_router(accounts_api)
    app.include_router(members_api)
    app.include_router(scoring_api)
    app.include_router(benchmarking_api)
    app.include_router(audit_api)
    app.include_router(actions_api)
    app.include_router(baf_api)
    app.include_router(indicators_api)
    app.include_router(reports_api)
    app.include_router(frameworks_api)
    app.include_router(organisations_api)
    app.include_router(home_pages)
    app.include_router(observability_routes)  # /metrics and /readyz
    app.include_router(accounts_pages)
    app.include_router(oidc_pages)
    app.include_router(password_pages)
    app.include_router(members_pages)
    app.include_router(two_factor_pages)
    app.include_router(trust_settings_pages)
    app.include_router(organisations_pages)
    app.include_router(assessments_pages)
    app.include_router(headline_pages)
    app.include_router(reminders_pages)
    app.include_router(scoring_pages)
    app.include_router(benchmarking_pages)
    app.include_router(sector_pages)
    app.include_router(consensus_pages)
    app.include_router(evidence_pages)
    app.include_router(signoff_pages)
    app.include_router(rating_window_pages)
    app.include_router(meeting_pages)
    app.include_router(audit_pages)
    app.include_router(admin_pages)
    app.include_router(admin_trusts_pages)
    app.include_router(admin_people_pages)
    app.include_router(data_protection_pages)
    app.include_router(actions_pages)
    app.include_router(action_pages)
    app.include_router(baf_pages)
    app.include_router(indicators_pages)
    app.include_router(reports_pages)
    if settings.api_docs_enabled:
        app.include_router(api_docs_pages)

    # The last added runs first: security headers go on every answer, the 413 included; the body
    # limit comes before anything that could read the body.
    app.add_middleware(CsrfCookieMiddleware, name=cookie_name(settings.env), secure=settings.secure_cookies)
    app.add_middleware(
        BodyLimitMiddleware,
        limit=settings.max_request_bytes,
        upload_limit=settings.max_upload_request_bytes,
        uploads=upload_routes(app.routes),
    )
    app.add_middleware(SecurityHeadersMiddleware, hsts=settings.env == "production")
    # Observability (request id, request line, metrics): added last, so it is the outermost layer
    # and its request id is set for everything below it, the 413 included.
    app.add_middleware(ObservabilityMiddleware)

    @app.exception_handler(RedirectTo)
    async def _redirect(request: Request, exc: RedirectTo) -> Response:
        if request.headers.get("HX-Request") == "true":
            # htmx follows a redirect inside the fragment; tell it to load the whole page instead.
            return Response(status_code=200, headers={"HX-Redirect": exc.url})
        return RedirectResponse(exc.url, status_code=303)

    @app.exception_handler(ExportInProgress)
    async def _export_in_progress(request: Request, exc: ExportInProgress) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.message}, status_code=429, headers=exc.headers)
        assessment_id = request.path_params.get("assessment_id")
        response = render(
            request,
            "reports/preparing.html",
            {
                "page_title": "Your report is being prepared",
                "back_url": path_to(request, "results", assessment_id=assessment_id)
                if assessment_id
                else None,
            },
            status_code=429,
        )
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        if _wants_json(request):
            detail = exc.as_detail() if isinstance(exc, FieldError) else exc.message
            return JSONResponse(
                {"detail": detail, **exc.extra}, status_code=exc.status_code, headers=exc.headers
            )
        return _error_page(request, exc.status_code, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _wants_json(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
        response = _error_page(request, exc.status_code, None if exc.status_code == 404 else str(exc.detail))
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {
                "loc": list(error["loc"]),
                "field": ".".join(str(part) for part in error["loc"][1:]) or error["loc"][0],
                "msg": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    app.openapi = _openapi_with_unreadable_bodies(app)  # type: ignore[method-assign]
    return app
