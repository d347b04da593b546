"""A real OpenID provider for the single sign-on tests: tests/oidc/provider.mjs (npm `oidc-provider`)
under Node, on a free port of 127.0.0.1, and a browserless walk through its sign-in page.

Like PostgreSQL for the suite: skipped on a developer's machine without `npm ci --prefix tests/oidc`,
a failure in CI (CI=true), where .ci/run installs it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
CLIENT_ID = "race-equality-board"
# A second service registered at the same provider: its ID tokens are not for us.
OTHER_CLIENT_ID = "another-service"
OTHER_REDIRECT_URI = "http://127.0.0.1:9/another-service/callback"
MFA_ACR = "urn:test:loa:mfa"
START_TIMEOUT = 20.0


@dataclass(frozen=True)
class OidcTestProvider:
    issuer: str
    client_id: str
    client_secret: str
    other_client_secret: str


def _unavailable(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (in CI the single sign-on tests must run, not be skipped)")
    pytest.skip(message)


@contextmanager
def running_provider(app_base_url: str) -> Iterator[OidcTestProvider]:
    """The provider, with this service registered for `app_base_url` and one other service."""
    if shutil.which("node") is None:
        _unavailable("Node.js is not installed: the single sign-on tests need it")
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        _unavailable("the test OpenID provider is not installed: npm ci --prefix tests/oidc")
    provider = OidcTestProvider("", CLIENT_ID, secrets.token_urlsafe(24), secrets.token_urlsafe(24))
    clients = [
        {
            "client_id": CLIENT_ID,
            "client_secret": provider.client_secret,
            "redirect_uris": [f"{app_base_url}/sign-in/oidc/callback"],
            "post_logout_redirect_uris": [f"{app_base_url}/signed-out"],
        },
        {
            "client_id": OTHER_CLIENT_ID,
            "client_secret": provider.other_client_secret,
            "redirect_uris": [OTHER_REDIRECT_URI],
        },
    ]
    env = {**os.environ, "OIDC_TEST_CLIENTS": json.dumps(clients)}
    process = subprocess.Popen(
        ["node", "provider.mjs"],
        cwd=OIDC_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first_line: list[str] = []
    reader = threading.Thread(target=lambda: first_line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(START_TIMEOUT)
    try:
        if not first_line or not first_line[0].strip():
            process.kill()
            _, errors = process.communicate(timeout=5)
            pytest.fail(f"the test OpenID provider did not start:\n{errors}")
        issuer = json.loads(first_line[0])["issuer"]
        yield OidcTestProvider(issuer, CLIENT_ID, provider.client_secret, provider.other_client_secret)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def sign_in_at_provider(authorization_url: str, username: str, until: str) -> str:
    """Follow the provider's pages as a browser would, signing in as `username`; returns the URL the
    provider sends the browser back to (the first one starting with `until`)."""
    with httpx.Client(timeout=15) as browser:
        url = authorization_url
        for _ in range(10):
            response = browser.get(url)
            if response.status_code == 200 and "/interaction/" in str(response.url):
                response = browser.post(str(response.url), data={"login": username})
            if response.status_code not in (302, 303):
                raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")
            url = str(response.url.join(response.headers["location"]))
            if url.startswith(until):
                return url
        raise AssertionError("the provider never sent the browser back")


def token_for_other_service(provider: OidcTestProvider, username: str, nonce: str) -> dict[str, Any]:
    """A genuine token response the provider gives the other registered service (PKCE and all)."""
    from authlib.common.security import generate_token
    from authlib.oauth2.rfc7636 import create_s256_code_challenge

    verifier = generate_token(64)
    params = {
        "client_id": OTHER_CLIENT_ID,
        "response_type": "code",
        "scope": "openid email profile",
        "redirect_uri": OTHER_REDIRECT_URI,
        "state": generate_token(20),
        "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    back = sign_in_at_provider(
        str(httpx.URL(f"{provider.issuer}/auth", params=params)), username, OTHER_REDIRECT_URI
    )
    code = httpx.URL(back).params["code"]
    response = httpx.post(
        f"{provider.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": OTHER_REDIRECT_URI,
            "code_verifier": verifier,
        },
        auth=(OTHER_CLIENT_ID, provider.other_client_secret),
    )
    response.raise_for_status()
    return response.json()
