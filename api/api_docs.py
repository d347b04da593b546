"""The interactive API documentation (/docs) and its OAuth2 helper page, from vendored Swagger UI.

FastAPI's own /docs page loads Swagger UI from a CDN and starts it with an inline script; this one
loads everything from /static (users' browsers may reach no CDN, and the service's
Content-Security-Policy allows no inline script, here as everywhere). Served only where the
settings turn the documentation on (api/settings.py: API_DOCS; off in production by default).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

OPENAPI_URL = "/openapi.json"
DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"

router = APIRouter(include_in_schema=False)

DOCS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Race equality board self-assessment: API documentation</title>
<link rel="stylesheet" href="/static/swagger-ui/swagger-ui.css">
<link rel="icon" href="/assets/images/favicon.ico">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{OPENAPI_URL}" data-oauth2-redirect-url="{OAUTH2_REDIRECT_URL}"></div>
<script src="/static/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/app/api-docs.js"></script>
</body>
</html>
"""

OAUTH2_REDIRECT_PAGE = """<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>Signing in to the API documentation</title></head>
<body>
<script src="/static/swagger-ui/oauth2-redirect.js"></script>
</body>
</html>
"""


@router.get(DOCS_URL)
def api_docs() -> HTMLResponse:
    return HTMLResponse(DOCS_PAGE)


@router.get(OAUTH2_REDIRECT_URL)
def api_docs_oauth2_redirect() -> HTMLResponse:
    return HTMLResponse(OAUTH2_REDIRECT_PAGE)
