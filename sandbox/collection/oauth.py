"""The OAuth 2.0 endpoints: the authorize page, ``/oauth/token`` and ``/oauth/revoke``.

The authorize page is a real HTML consent form: it "signs in" the owner of any account (picked
on the page, or preselected with ``?account_id=``) and posts back Allow or Deny. With
``PUT /_sandbox/oauth {auto_consent: true}`` it redirects at once (the ``account_id`` given, else
the first account). PKCE S256 is required. An invalid ``client_id`` or ``redirect_uri`` shows an
error page instead of redirecting (RFC 6749 § 4.1.2.1). ``redirect_uri`` must be on host
127.0.0.1 or under the configured public URL. Clients authenticate with HTTP Basic (or with
``client_id``/``client_secret`` in the form body).
"""

from __future__ import annotations

import base64
import hmac
import html
import secrets
from urllib.parse import urlencode, urlsplit

from aiohttp import web
from multidict import MultiDict, MultiMapping

from sandbox.collection import grants
from sandbox.collection.problems import OAuthError
from sandbox.collection.state import ALL_SCOPES, PARTNER_SCOPE, STATE, AuthCode, CollectionState

routes = web.RouteTableDef()
AUTH_FIELDS = (
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
)


def redirect_allowed(state: CollectionState, uri: str) -> bool:
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return False
    if parts.hostname == "127.0.0.1":
        return True
    public = state.settings.public_url
    return public is not None and uri.startswith(public.rstrip("/") + "/")


def _with_params(uri: str, params: dict[str, str]) -> str:
    return uri + ("&" if urlsplit(uri).query else "?") + urlencode(params)


def _error_page(message: str) -> web.Response:
    page = (
        "<!doctype html><title>Authorization error</title><h1>Cannot authorize</h1>"
        f"<p>{html.escape(message)}</p>"
    )
    return web.Response(status=400, text=page, content_type="text/html")


def _check_request(
    state: CollectionState, query: MultiMapping[str]
) -> tuple[str, tuple[str, ...]] | web.Response:
    """``(redirect_uri, scopes)`` or an error page/redirect for a bad authorization request."""
    redirect_uri = query.get("redirect_uri", "")
    if query.get("client_id") != state.settings.client_id:
        return _error_page("unknown client_id")
    if not redirect_allowed(state, redirect_uri):
        return _error_page("redirect_uri is not allowed for this client")
    error = None
    scopes = tuple(query.get("scope", "").split()) or ALL_SCOPES
    if query.get("response_type", "code") != "code":
        error = "unsupported_response_type"
    elif not query.get("code_challenge") or query.get("code_challenge_method") != "S256":
        error = "invalid_request"
    elif not set(scopes) <= set(ALL_SCOPES):
        error = "invalid_scope"
    if error:
        params = {"error": error, "state": query.get("state", "")}
        raise web.HTTPFound(_with_params(redirect_uri, params))
    return redirect_uri, scopes


def _issue_code(
    state: CollectionState,
    query: MultiMapping[str],
    account_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...],
) -> web.HTTPFound:
    code = AuthCode(
        code="ac_" + secrets.token_urlsafe(24),
        client_id=state.settings.client_id,
        account_id=account_id,
        redirect_uri=redirect_uri,
        challenge=query.get("code_challenge", ""),
        scope=scopes,
        expires_at=state.wall() + state.settings.code_ttl,
    )
    state.codes[code.code] = code
    return web.HTTPFound(
        _with_params(redirect_uri, {"code": code.code, "state": query.get("state", "")})
    )


@routes.get("/oauth/authorize")
async def authorize_page(request: web.Request) -> web.Response:
    state = request.app[STATE]
    checked = _check_request(state, request.query)
    if isinstance(checked, web.Response):
        return checked
    redirect_uri, scopes = checked
    wanted = request.query.get("account_id")
    if state.auto_consent and state.accounts:
        account_id = wanted if wanted in state.accounts else next(iter(state.accounts))
        raise _issue_code(state, request.query, account_id, redirect_uri, scopes)
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(request.query.get(name, ""))}">'
        for name in (*AUTH_FIELDS, "response_type")
    )
    options = "".join(
        f'<option value="{html.escape(a.id)}"{" selected" if a.id == wanted else ""}>'
        f"{html.escape(a.name)} ({html.escape(a.id)})</option>"
        for a in state.accounts.values()
    )
    scope_items = "".join(f"<li>{html.escape(s)}</li>" for s in scopes)
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Authorize collectbridge</title></head>
<body><main>
<h1>Allow the app to use your collection account?</h1>
<form method="post" action="/oauth/authorize">{hidden}
<label for="account_id">Sign in as the owner of</label>
<select id="account_id" name="account_id">{options}</select>
<p>The app asks for:</p><ul>{scope_items}</ul>
<button type="submit" name="decision" value="allow" id="allow">Allow</button>
<button type="submit" name="decision" value="deny" id="deny">Deny</button>
</form></main></body></html>"""
    return web.Response(text=page, content_type="text/html")


@routes.post("/oauth/authorize")
async def authorize_decision(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    query = {key: str(value) for key, value in form.items()}
    checked = _check_request(state, MultiDict(query))
    if isinstance(checked, web.Response):
        return checked
    redirect_uri, scopes = checked
    if query.get("decision") != "allow" or query.get("account_id") not in state.accounts:
        params = {"error": "access_denied", "state": query.get("state", "")}
        raise web.HTTPFound(_with_params(redirect_uri, params))
    raise _issue_code(state, MultiDict(query), query["account_id"], redirect_uri, scopes)


def _client(state: CollectionState, request: web.Request, form: MultiMapping[str]) -> str:
    header = request.headers.get("Authorization", "")
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError as exc:
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from exc
        client_id, _, secret = decoded.partition(":")
    settings = state.settings
    if client_id != settings.client_id or not hmac.compare_digest(secret, settings.client_secret):
        raise OAuthError("invalid_client", "client authentication failed", 401)
    return client_id


@routes.post("/oauth/token")
async def token(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = {key: str(value) for key, value in (await request.post()).items()}
    client_id = _client(state, request, MultiDict(form))
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        if form.get("scope", PARTNER_SCOPE) != PARTNER_SCOPE:
            raise OAuthError("invalid_scope", f"only {PARTNER_SCOPE} is granted to partners")
        body = grants.partner_token(state, client_id)
    elif grant_type == "authorization_code":
        body = grants.redeem_code(
            state,
            form.get("code", ""),
            client_id,
            form.get("redirect_uri", ""),
            form.get("code_verifier", ""),
        )
    elif grant_type == "refresh_token":
        body = grants.refresh(state, form.get("refresh_token", ""), client_id)
    else:
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    return web.json_response(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})


@routes.post("/oauth/revoke")
async def revoke(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = {key: str(value) for key, value in (await request.post()).items()}
    client_id = _client(state, request, MultiDict(form))
    if not form.get("token"):
        raise OAuthError("invalid_request", "token is required")
    grants.revoke_token(state, form["token"], client_id)
    return web.Response(status=200)
