"""Security headers on every response (pure ASGI, so streaming responses keep working).

Every response but a static file is also kept out of caches (`Cache-Control: no-store, private`):
pages, JSON and exports carry a trust's or the sector's figures, and a shared proxy or the browser's
disk cache must not keep a copy for the next person at that computer. Set here, in one place, so a
new route cannot forget it; a route may send its own value only if it too says no-store.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' https://assets.nhs.uk",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)
NO_STORE = b"no-store, private"
# Only the vendored CSS, JavaScript, fonts and icons may be cached (they hold no one's figures).
CACHEABLE_PREFIXES = ("/static/", "/assets/")


def _with_no_store(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The response's headers with a Cache-Control that forbids storing it: the route's own value
    is kept when it already says no-store (some say why in their own words), replaced otherwise."""
    kept = [(n, v) for n, v in headers if n.lower() != b"cache-control"]
    own = [v for n, v in headers if n.lower() == b"cache-control"]
    if len(own) == 1 and b"no-store" in own[0].lower():
        return headers
    return [*kept, (b"cache-control", NO_STORE)]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool = False) -> None:
        self.app = app
        self.hsts = hsts
        # Encoded once: these go on every response.
        self._headers = self._extra(CONTENT_SECURITY_POLICY)

    def _extra(self, policy: str) -> list[tuple[bytes, bytes]]:
        extra = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"strict-origin-when-cross-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if self.hsts:
            extra.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return extra

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The API documentation page (api/api_docs.py) runs under the same policy as every page.
        extra = self._headers
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _ in headers}
                headers.extend((n, v) for n, v in extra if n not in names)
                message["headers"] = headers if cacheable else _with_no_store(headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
