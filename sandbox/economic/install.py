"""The "Add app" page at ``/secure/api1/requestaccess.aspx``.

``GET`` shows a real HTML form (pick a company, press "Add app"); the form ``POST`` grants the
app access and sends the browser to ``redirectUrl?token=<grant token>`` (other query parameters
of ``redirectUrl`` are kept). Without ``redirectUrl`` the page shows the token to copy. With
``PUT /_sandbox/install {"auto_approve": true}`` the ``GET`` grants the first company not yet
granted (the first company when all are) and redirects at once. A wrong ``appPublicToken`` gets
an HTML error page with status 400.
"""

from __future__ import annotations

from html import escape

from aiohttp import web
from yarl import URL

from sandbox.economic.keys import STATE
from sandbox.economic.state import SimState

PATH = "/secure/api1/requestaccess.aspx"
TEXTS = {
    "da-DK": (
        "Tilføj app",
        "collectbridge vil have adgang til dit regnskab.",
        "Vælg virksomhed",
        "Kopiér dette token til appen:",
        "Ugyldig anmodning",
    ),
    "en-US": (
        "Add app",
        "collectbridge asks for access to your accounts.",
        "Choose company",
        "Copy this token into the app:",
        "Invalid request",
    ),
    "sv-SE": (
        "Lägg till app",
        "collectbridge vill ha åtkomst till din bokföring.",
        "Välj företag",
        "Kopiera denna token till appen:",
        "Ogiltig begäran",
    ),
    "nb-NO": (
        "Legg til app",
        "collectbridge ber om tilgang til regnskapet ditt.",
        "Velg selskap",
        "Kopier denne tokenen til appen:",
        "Ugyldig forespørsel",
    ),
}


def _page(title: str, body: str, locale: str, status: int = 200) -> web.Response:
    html = (
        f'<!doctype html><html lang="{escape(locale[:2])}"><head><meta charset="utf-8">'
        f"<title>{escape(title)} – e-conomic</title></head><body>"
        f"<h1>{escape(title)}</h1>{body}</body></html>"
    )
    return web.Response(text=html, content_type="text/html", status=status)


def _texts(locale: str) -> tuple[str, ...]:
    return TEXTS.get(locale, TEXTS["da-DK"])


def _problem(params: dict[str, str], state: SimState) -> str | None:
    if params.get("appPublicToken") != state.app_public_token:
        return "Unknown appPublicToken."
    redirect = params.get("redirectUrl")
    if redirect and (URL(redirect).scheme not in ("http", "https") or not URL(redirect).host):
        return "redirectUrl must be an absolute http(s) URL."
    return None


def default_agreement(state: SimState) -> int:
    granted = state.granted_agreements()
    real = [a for a, c in state.companies.items() if not c.demo]
    return next((a for a in real if a not in granted), real[0])


def _granted(state: SimState, agreement: int, params: dict[str, str]) -> web.Response:
    token = state.issue_grant(agreement)
    redirect = params.get("redirectUrl")
    if redirect:
        raise web.HTTPFound(URL(redirect).extend_query(token=token))
    locale = params.get("locale", "da-DK")
    body = f'<p>{escape(_texts(locale)[3])}</p><p><code id="token">{escape(token)}</code></p>'
    return _page(_texts(locale)[0], body, locale)


async def request_access(request: web.Request) -> web.Response:
    state, params = request.app[STATE], dict(request.query)
    locale = params.get("locale", "da-DK")
    texts = _texts(locale)
    if problem := _problem(params, state):
        return _page(texts[4], f"<p>{escape(problem)}</p>", locale, status=400)
    if state.auto_approve:
        return _granted(state, default_agreement(state), params)
    chosen = default_agreement(state)
    options = "".join(
        f'<p><label><input type="radio" name="agreement" value="{a}"'
        f"{' checked' if a == chosen else ''}> {escape(c.name)} ({a})</label></p>"
        for a, c in state.companies.items()
        if not c.demo
    )
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{escape(params.get(k, ""))}">'
        for k in ("appPublicToken", "redirectUrl", "locale")
    )
    body = (
        f'<p>{escape(texts[1])}</p><form method="post" action="{PATH}">{hidden}'
        f"<fieldset><legend>{escape(texts[2])}</legend>{options}</fieldset>"
        f'<button type="submit" id="add-app">{escape(texts[0])}</button></form>'
    )
    return _page(texts[0], body, locale)


async def approve(request: web.Request) -> web.Response:
    state = request.app[STATE]
    form = await request.post()
    params = {k: str(v) for k, v in form.items() if isinstance(v, str)}
    locale = params.get("locale", "da-DK")
    if problem := _problem(params, state):
        return _page(_texts(locale)[4], f"<p>{escape(problem)}</p>", locale, status=400)
    raw = params.get("agreement", "")
    agreement = int(raw) if raw.isdigit() else default_agreement(state)
    if agreement not in state.companies or state.companies[agreement].demo:
        return _page(_texts(locale)[4], "<p>Unknown company.</p>", locale, status=400)
    return _granted(state, agreement, params)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(PATH, request_access)
    app.router.add_post(PATH, approve)
