"""Single sign-on through OpenID Connect: the provider's metadata and keys, the authorization request
(state, nonce, PKCE), the code exchange, the ID token checks, and finding the account the provider's
person already has here. Single sign-on never creates a person or grants a role.

Authlib does the OAuth 2.0 client (authorization URL with PKCE, the code exchange with the client
secret); joserfc, Authlib's JOSE library, checks the ID token's signature against the provider's keys.
"""

from __future__ import annotations

import threading
import time
import warnings
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from authlib.common.security import generate_token
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlmodel import Session, col, select

from api.accounts.models import OidcSignInRequest, User
from api.accounts.service import lookup_email
from api.accounts.tokens import secret_hash
from api.db import utcnow
from api.settings import Settings

with warnings.catch_warnings():
    # Authlib 1.9 prefers the httpx2 package and notes that it falls back to httpx, which this
    # service already uses; the fallback works the same. (Its own filter says "always", so this one
    # goes in front of it.)
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", "The httpx module is deprecated", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import OAuth2Client, OAuthError

# Metadata and keys are fetched again after this long (providers rotate keys; a key id we have not
# seen also fetches them again at once).
METADATA_LIFETIME = 3600.0
# A sign-in started at the provider must come back within this long.
REQUEST_LIFETIME = timedelta(minutes=10)
HTTP_TIMEOUT = 10.0
# Clocks differ a little between us and the provider.
CLOCK_LEEWAY_SECONDS = 60
# Asymmetric signatures only: never "none", never HS256 keyed with the (shared) client secret.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")
STATE_COOKIE = "oidc_state"


class SingleSignOnError(Exception):
    """Single sign-on did not work. `reason` goes to the audit log; the person sees a plain page."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class ProviderUnavailable(SingleSignOnError):
    """The provider could not be reached, or answered with something unusable."""


@dataclass(frozen=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None


@dataclass(frozen=True)
class ProviderIdentity:
    """Who the provider says signed in, from a checked ID token."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool | None
    multi_factor: bool


class OidcProvider:
    """One configured provider: discovery and keys cached for the app, the protocol steps."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        assert settings.oidc_issuer and settings.oidc_client_id and settings.oidc_client_secret
        self.settings = settings
        self.issuer: str = settings.oidc_issuer
        self.client_id: str = settings.oidc_client_id
        self._client_secret: str = settings.oidc_client_secret
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._metadata_at = 0.0
        self._keys: KeySet | None = None
        self._keys_at = 0.0

    @property
    def redirect_uri(self) -> str:
        return self.settings.base_url.rstrip("/") + "/sign-in/oidc/callback"

    def _oauth_client(self, **kwargs: Any) -> OAuth2Client:
        return OAuth2Client(
            client_id=self.client_id,
            client_secret=self._client_secret,
            token_endpoint_auth_method="client_secret_basic",
            scope=self.settings.oidc_scopes,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            timeout=HTTP_TIMEOUT,
            transport=self._transport,
            **kwargs,
        )

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            with httpx.Client(timeout=HTTP_TIMEOUT, transport=self._transport) as http:
                response = http.get(url, headers={"Accept": "application/json"})
                response.raise_for_status()
                document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ProviderUnavailable("provider_unavailable", f"{url}: {exc}") from exc
        if not isinstance(document, dict):
            raise ProviderUnavailable("provider_unavailable", f"{url} did not answer a JSON object")
        return document

    def metadata(self) -> ProviderMetadata:
        with self._lock:
            if self._metadata is not None and time.monotonic() - self._metadata_at < METADATA_LIFETIME:
                return self._metadata
        document = self._get_json(self.issuer.rstrip("/") + "/.well-known/openid-configuration")
        # OpenID Connect Discovery: the document's issuer must be exactly the one configured, or a
        # document from elsewhere could name other endpoints and keys.
        if document.get("issuer") != self.issuer:
            raise ProviderUnavailable(
                "provider_unavailable",
                f"discovery names issuer {document.get('issuer')!r}, not {self.issuer!r}",
            )
        try:
            metadata = ProviderMetadata(
                issuer=document["issuer"],
                authorization_endpoint=document["authorization_endpoint"],
                token_endpoint=document["token_endpoint"],
                jwks_uri=document["jwks_uri"],
                end_session_endpoint=document.get("end_session_endpoint"),
            )
        except KeyError as exc:
            raise ProviderUnavailable("provider_unavailable", f"discovery lacks {exc}") from exc
        with self._lock:
            self._metadata, self._metadata_at = metadata, time.monotonic()
        return metadata

    def keys(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            fresh = time.monotonic() - self._keys_at < METADATA_LIFETIME
            if self._keys is not None and fresh and not refresh:
                return self._keys
        try:
            keys = KeySet.import_key_set(self._get_json(self.metadata().jwks_uri))  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError) as exc:
            raise ProviderUnavailable("provider_unavailable", f"unusable signing keys: {exc}") from exc
        with self._lock:
            self._keys, self._keys_at = keys, time.monotonic()
        return keys

    def authorization_url(self, *, state: str, nonce: str, code_verifier: str) -> str:
        with self._oauth_client() as client:
            url, _state = client.create_authorization_url(
                self.metadata().authorization_endpoint, state=state, nonce=nonce, code_verifier=code_verifier
            )
        return url

    def exchange_code(self, *, code: str, code_verifier: str) -> dict[str, Any]:
        """The token response for an authorization code (the provider refuses a code used before)."""
        token_endpoint = self.metadata().token_endpoint
        try:
            with self._oauth_client() as client:
                token = client.fetch_token(
                    token_endpoint, code=code, code_verifier=code_verifier, grant_type="authorization_code"
                )
        except OAuthError as exc:
            raise SingleSignOnError("code_refused", f"{exc.error}: {exc.description}") from exc
        except httpx.HTTPError as exc:
            raise ProviderUnavailable("provider_unavailable", str(exc)) from exc
        return dict(token)

    def verify_id_token(self, id_token: str, *, nonce: str) -> dict[str, Any]:
        """The ID token's claims, once its signature (provider's keys), issuer, audience, expiry and
        nonce are all right; SingleSignOnError("id_token_refused") otherwise."""
        try:
            try:
                token = jwt.decode(id_token, self.keys(), algorithms=list(SIGNING_ALGORITHMS))
            except (JoseError, ValueError) as exc:
                if "key" not in str(exc).lower():
                    raise
                # A key id we have not seen: the provider may have rotated its keys since we fetched them.
                token = jwt.decode(id_token, self.keys(refresh=True), algorithms=list(SIGNING_ALGORITHMS))
            claims = dict(token.claims)
            jwt.JWTClaimsRegistry(
                leeway=CLOCK_LEEWAY_SECONDS,
                iss={"essential": True, "value": self.issuer},
                sub={"essential": True},
                aud={"essential": True, "value": self.client_id},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(claims)
        except (JoseError, ValueError, TypeError) as exc:
            raise SingleSignOnError("id_token_refused", str(exc)) from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if self.client_id not in audiences:
            raise SingleSignOnError("id_token_refused", "audience is not this service")
        # OpenID Connect Core 3.1.3.7: with more than one audience, the token must have been issued to us.
        if len(audiences) > 1 and claims.get("azp") != self.client_id:
            raise SingleSignOnError("id_token_refused", "authorized party is not this service")
        return claims

    def end_session_url(self, post_logout_redirect_uri: str) -> str | None:
        """Where to send the browser to sign out at the provider too (RP-initiated logout), if it can."""
        try:
            endpoint = self.metadata().end_session_endpoint
        except ProviderUnavailable:
            return None
        if not endpoint:
            return None
        query = httpx.QueryParams(client_id=self.client_id, post_logout_redirect_uri=post_logout_redirect_uri)
        return str(httpx.URL(endpoint).copy_merge_params(query))


def provider_for(app_state: Any, settings: Settings) -> OidcProvider | None:
    """The app's provider (one per app, so metadata and keys are cached), or None if not configured."""
    if not settings.oidc_enabled:
        return None
    provider = getattr(app_state, "oidc_provider", None)
    if provider is None:
        provider = OidcProvider(settings, getattr(app_state, "oidc_transport", None))
        app_state.oidc_provider = provider
    return provider


# --- The sign-in under way --------------------------------------------------------------------------


def start_sign_in(session: Session, next_path: str | None) -> tuple[str, OidcSignInRequest]:
    """A new random state, nonce and PKCE verifier, kept for REQUEST_LIFETIME; returns the raw state."""
    now = utcnow()
    session.exec(delete(OidcSignInRequest).where(col(OidcSignInRequest.expires_at) <= now))  # type: ignore[call-overload]
    state = generate_token(43)
    request = OidcSignInRequest(
        state_hash=secret_hash(state),
        nonce=generate_token(43),
        code_verifier=generate_token(64),
        next_path=next_path,
        created_at=now,
        expires_at=now + REQUEST_LIFETIME,
    )
    session.add(request)
    session.flush()
    return state, request


def take_sign_in(session: Session, state: str) -> OidcSignInRequest:
    """The sign-in this state started, removed so the state cannot be used again."""
    request = session.exec(
        select(OidcSignInRequest).where(OidcSignInRequest.state_hash == secret_hash(state))
    ).first()
    if request is None:
        raise SingleSignOnError("state_refused", "unknown or already used state")
    session.delete(request)
    session.flush()
    if request.expires_at <= utcnow():
        raise SingleSignOnError("state_refused", "the sign-in took longer than 10 minutes")
    return request


# --- Who signed in, and their account here ------------------------------------------------------------


def identity_from_claims(claims: dict[str, Any], settings: Settings) -> ProviderIdentity:
    amr = claims.get("amr")
    said_mfa = (isinstance(amr, list) and "mfa" in amr) or (
        bool(settings.oidc_mfa_acr_values) and claims.get("acr") in settings.oidc_mfa_acr_values
    )
    email = claims.get("email")
    verified = claims.get("email_verified")
    return ProviderIdentity(
        issuer=str(claims["iss"]),
        subject=str(claims["sub"]),
        email=lookup_email(email) if isinstance(email, str) and email.strip() else None,
        email_verified=verified if isinstance(verified, bool) else None,
        multi_factor=said_mfa,
    )


def _domain_allowed(email: str | None, settings: Settings) -> bool:
    if not settings.oidc_allowed_email_domains:
        return True
    if email is None:
        return False
    allowed = {
        lookup_email(f"x@{d.strip().lstrip('@')}").split("@", 1)[1]
        for d in settings.oidc_allowed_email_domains
    }
    return email.rsplit("@", 1)[-1] in allowed


@dataclass(frozen=True)
class AccountMatch:
    user: User
    linked_now: bool


def find_account(session: Session, identity: ProviderIdentity, settings: Settings) -> AccountMatch:
    """The account this provider identity signs in to; SingleSignOnError (refusal) otherwise.

    Linked already (issuer and `sub`): that account, whatever the email says now. Not linked: the
    account with the provider's verified email, if it is not linked to someone else; it is linked now.
    """
    if not _domain_allowed(identity.email, settings):
        raise SingleSignOnError("email_domain_refused", identity.email or "no email")
    linked = session.exec(
        select(User).where(User.oidc_issuer == identity.issuer, User.oidc_subject == identity.subject)
    ).first()
    if linked is not None:
        if not linked.is_active:
            raise SingleSignOnError("no_account", "account switched off")
        return AccountMatch(linked, linked_now=False)
    if identity.email is None:
        raise SingleSignOnError("no_email", "the provider sent no email address")
    if identity.email_verified is False or (
        identity.email_verified is None and settings.oidc_require_email_verified
    ):
        raise SingleSignOnError("email_not_verified", identity.email)
    user = session.exec(select(User).where(User.email == identity.email)).first()
    if user is None or not user.is_active:
        raise SingleSignOnError("no_account", identity.email)
    if user.oidc_subject is not None:
        # The address now belongs to a different identity at the provider (a mailbox handed on):
        # the account stays with the identity it was linked to.
        raise SingleSignOnError("linked_to_other_identity", identity.email)
    user.oidc_issuer, user.oidc_subject = identity.issuer, identity.subject
    session.add(user)
    session.flush()
    return AccountMatch(user, linked_now=True)
