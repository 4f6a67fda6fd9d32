"""The onboarding page and the end of the link flow, server-rendered.

    GET  /onboarding/{agreement}          the form, pre-filled (saved choices, else defaults);
                                          where an install lands
    POST /onboarding/{agreement}          admins only, with the session's CSRF token
    GET  /install/collection/callback     ?code&state (or ?error&state): back from the
                                          collection platform's consent page

No session → the start page; a company the person is no member of, or that does not exist →
404, the same answer for both, so agreement numbers cannot be probed. Guests and caseworkers
see the page read-only. A POST without the session's CSRF token (the hidden ``csrf_token``
field), or by a member below admin, is refused with 403 and changes nothing. The journals and
accounts are offered as e-conomic lists them; when e-conomic cannot be read the page says so
and takes numbers instead. After onboarding the page shows the bootstrap job and, to admins
only, the legacy webhook URLs to paste into e-conomic when the Webhooks API was refused.

The page sits in the settings frame (`plugin.pages.guard.render`: the company in view, the
switcher, the language link) and speaks the person's language (`plugin.pages.texts`); the
callback page uses the plain frame. Messages that come with a stable code are said in that
language; a detail only the platform or the checks can word is shown as it came.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp_jinja2
import msgspec
from aiohttp import web

from plugin.api.auth import Caller, Member
from plugin.api.installations import legacy_urls_for
from plugin.connections import Connections
from plugin.keys import DATABASE, SERVICES
from plugin.onboarding.choices import (
    ACCOUNT_FIELDS,
    APP_JOURNAL_NAME,
    POSTABLE,
    Note,
    OnboardingChoices,
    OnboardingError,
    OnboardingInvalid,
    resolve,
    usable_journals,
)
from plugin.onboarding.collection import Linking, LinkRefused, complete_link
from plugin.onboarding.flow import Finished, Outcome, onboard
from plugin.onboarding.webhook_urls import legacy_topics
from plugin.pages.guard import Visitor, forms_may_go_on_to, refusal, render
from plugin.pages.texts import TEXTS, Language, Translate, language_of, translator
from plugin.roles import allows
from plugin.sessions import signed_in
from sync.company_settings import DEFAULT_CHANNELS, company_settings
from sync.errors import SyncError
from sync.redaction import remember_secrets
from sync.store.installations import Installation, Installations
from sync.store.users import Users

log = logging.getLogger(__name__)
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}
CSRF_FIELD = "csrf_token"


async def _visitor(request: web.Request) -> Visitor | web.Response:
    """The signed-in member looking, as the settings pages' guard would describe them."""
    me = await signed_in(request)
    if me is None:
        return web.Response(status=302, headers={"Location": "/"})
    language = language_of(request, me.user.language)
    db = request.app[DATABASE]
    installation = await Installations(db).get_by_agreement(int(request.match_info["agreement"]))
    role = await Users(db).role_in(me.user.id, installation.id) if installation else None
    if installation is None or role is None:
        return refusal(request, language, 404, "not_found_text")
    caller = Caller(user=me.user, via="session")
    company = Member(caller=caller, installation=installation, role=role)
    return Visitor(me=me, language=language, form={}, company=company)


def _page(
    request: web.Request, template: str, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    response = aiohttp_jinja2.render_template(template, request, context)
    response.set_status(status)
    response.headers.update(NO_STORE)
    return response


async def onboarding_page(request: web.Request) -> web.Response:
    visitor = await _visitor(request)
    if isinstance(visitor, web.Response):
        return visitor
    return await _render(request, visitor)


async def onboarding_submit(request: web.Request) -> web.Response:
    visitor = await _visitor(request)
    if isinstance(visitor, web.Response):
        return visitor
    form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
    sent = form.get(CSRF_FIELD, "")
    if not hmac.compare_digest(sent.encode(), visitor.me.session.csrf_token.encode()):
        return await _render(request, visitor, error=_refusal("csrf_failed", ""), status=403)
    if not allows(visitor.role, "admin"):
        return await _render(request, visitor, error=_refusal("role_required", ""), status=403)
    try:
        choices = choices_from_form(form)
        outcome = await onboard(
            request.app[SERVICES], visitor.installation, choices, actor=visitor.me.user.email
        )
    except OnboardingError as exc:
        return await _render(
            request, visitor, error=_refusal(exc.code, exc.message), status=exc.status, form=form
        )
    return await _answer(request, visitor, outcome)


def _refusal(code: str, message: str) -> dict[str, str]:
    return {"code": code, "message": message}


# A refusal's or a note's code → the text that says it; ``{detail}`` takes the English detail
# where only the platform or the checks can word it.
SAID = {
    "csrf_failed": "onboarding_csrf_failed",
    "role_required": "onboarding_admin_only",
    "choices_lost": "onboarding_choices_lost",
    "onboarding_running": "onboarding_running",
    "economic_access_lost": "onboarding_economic_access_lost",
    "invalid_choice": "onboarding_invalid_choice",
    "invalid_state": "onboarding_invalid_state",
    "platform_unavailable": "onboarding_platform_unavailable",
    "platform_refused": "onboarding_platform_refused",
    "platform_garbled": "onboarding_platform_garbled",
    "collection_access_lost": "onboarding_collection_access_lost",
    "not_configured": "onboarding_not_configured",
    "journal_missing": "onboarding_note_journal_missing",
    "collection_webhook_refused": "onboarding_note_webhook_refused",
}


def said(t: Translate, code: str, message: str) -> str:
    """A message with a stable code in the reader's language; an unknown code as it came."""
    kind, _, field = code.partition(":")
    if kind == "account_missing" and field in ACCOUNT_FIELDS:
        return t("onboarding_note_account_missing", what=t(f"onboarding_what_{field}"))
    if code in SAID:
        return t(SAID[code], detail=message, name=APP_JOURNAL_NAME)
    return message


def _said_all(t: Translate, notes: tuple[Note, ...]) -> list[dict[str, str]]:
    return [{"code": n.code, "message": said(t, n.code, n.message)} for n in notes]


async def _answer(request: web.Request, visitor: Visitor, outcome: Outcome) -> web.Response:
    if isinstance(outcome, Linking) and outcome.code == "link":
        return web.Response(status=302, headers={"Location": outcome.authorize_url, **NO_STORE})
    if isinstance(outcome, Linking):
        return await _render(request, visitor, account_exists=outcome.authorize_url, status=409)
    assert visitor.company is not None
    company = msgspec.structs.replace(visitor.company, installation=outcome.installation)
    fresh = msgspec.structs.replace(visitor, company=company)
    return await _render(request, fresh, finished=outcome)


# -- the form -------------------------------------------------------------------------------------


def _number(form: Mapping[str, str], name: str) -> int | None:
    text = form.get(name, "").strip()
    if not text:
        return None
    if not text.isascii() or not text.lstrip("-").isdigit():
        raise OnboardingInvalid(name, f"{text!r} is not a whole number")
    return int(text)


def _numbers(form: Mapping[str, str], name: str) -> list[int]:
    parts = [p.strip() for p in form.get(name, "").replace(";", ",").split(",") if p.strip()]
    if not all(p.isascii() and p.isdigit() for p in parts):
        raise OnboardingInvalid(name, "a list of numbers, separated by commas")
    return [int(p) for p in parts]


def choices_from_form(form: Mapping[str, str]) -> OnboardingChoices:
    """The form's fields as the same choices the API takes."""
    policy: dict[str, Any] = {
        "mode": form.get("policy_mode") or "manual",
        "start_step": form.get("policy_start_step") or "reminder_1",
        "exclude_customer_groups": _numbers(form, "policy_exclude_customer_groups"),
    }
    for name in ("min_days_overdue", "min_amount", "notice_days"):
        value = _number(form, f"policy_{name}")
        if value is not None:
            policy[name] = value
    document: dict[str, Any] = {
        "collection": {"mode": form.get("collection_mode") or "create"},
        "journal_number": _number(form, "journal_number"),
        "accounts": {f: _number(form, f"account_{f}") for f in ACCOUNT_FIELDS},
        "business_customer_groups": _numbers(form, "business_customer_groups"),
        "policy": policy,
        "channels": [c.strip() for c in form.get("channels", "").split(",") if c.strip()]
        or list(DEFAULT_CHANNELS),
    }
    try:
        return msgspec.convert(document, OnboardingChoices)
    except msgspec.ValidationError as exc:
        raise OnboardingInvalid("", str(exc)) from exc


def _values(installation: Installation, defaults: dict[str, Any]) -> dict[str, str]:
    """What the form shows: the saved choices once onboarding saved any, else the defaults."""
    raw, settings = installation.settings, company_settings(installation.settings)
    saved = "journal_number" in raw or "accounts" in raw
    accounts = msgspec.to_builtins(settings.accounts) if saved else defaults["accounts"]
    journal = settings.journal_number if saved else defaults["journal_number"]
    policy = settings.policy
    values = {
        "collection_mode": settings.onboarding.collection_mode or "create",
        "journal_number": "" if journal is None else str(journal),
        "business_customer_groups": ", ".join(map(str, settings.business_customer_groups)),
        "policy_mode": policy.mode,
        "policy_min_days_overdue": str(policy.min_days_overdue),
        "policy_min_amount": str(policy.min_amount),
        "policy_exclude_customer_groups": ", ".join(map(str, policy.exclude_customer_groups)),
        "policy_start_step": policy.start_step,
        "policy_notice_days": str(policy.notice_days),
        "channels": ", ".join(settings.channels),
    }
    for field in ACCOUNT_FIELDS:
        number = accounts.get(field)
        values[f"account_{field}"] = "" if number is None else str(number)
    return values


async def _ledger(request: web.Request, installation: Installation) -> dict[str, Any]:
    """The company's journals and postable accounts, and the defaults picked among them."""
    services = request.app[SERVICES]
    try:
        economic = await Connections(services).economic(installation)
        journals = [j async for j in economic.journals()]
        accounts = [a async for a in economic.accounts()]
    except (SyncError, msgspec.MsgspecError) as exc:
        log.info("onboarding page without the ledger's lists: %s", type(exc).__name__)
        empty = {"journal_number": None, "accounts": dict.fromkeys(ACCOUNT_FIELDS)}
        return {"journals": [], "accounts": [], "ledger_error": True, "defaults": empty}
    resolved = resolve(OnboardingChoices(), journals=journals, accounts=accounts)
    return {
        "journals": usable_journals(journals),
        "accounts": [a for a in accounts if a.account_type in POSTABLE and not a.barred],
        "ledger_error": False,
        "defaults": {
            "journal_number": resolved.journal_number,
            "accounts": msgspec.to_builtins(resolved.accounts),
        },
    }


async def _render(
    request: web.Request,
    visitor: Visitor,
    *,
    error: dict[str, str] | None = None,
    account_exists: str | None = None,
    finished: Finished | None = None,
    form: Mapping[str, str] | None = None,
    status: int = 200,
) -> web.Response:
    services, installation = request.app[SERVICES], visitor.installation
    settings = company_settings(installation.settings)
    ledger = await _ledger(request, installation)
    values = _values(installation, ledger.pop("defaults"))
    if form is not None:  # a refused POST shows what was sent, not what is saved
        values.update({k: v for k, v in form.items() if k in values})
    job_id = finished.bootstrap_job_id if finished else settings.onboarding.bootstrap_job_id
    job = await services.queue.get(job_id) if job_id is not None else None
    urls = await legacy_urls_for(services, installation, visitor.role)
    topics = legacy_topics(settings.webhooks.economic.subscriptions)
    t = translator(visitor.language)
    context = {
        "installation": installation,
        "admin": allows(visitor.role, "admin"),
        "settings": settings,
        "values": values,
        "account_fields": ACCOUNT_FIELDS,
        "error": _said_error(t, error),
        "account_exists": account_exists,
        "finished": finished,
        "notes": _said_all(t, finished.notes) if finished else (),
        "job": job,
        "job_id": job_id,
        "legacy": [(topic, getattr(urls, topic)) for topic in topics] if urls else [],
        **ledger,
    }
    response = await render(request, visitor, "onboarding.html", context, status=status)
    response.headers["Content-Security-Policy"] = _policy(request)
    return response


def _said_error(t: Translate, error: dict[str, str] | None) -> dict[str, str] | None:
    return None if error is None else _refusal(error["code"], said(t, **error))


def _policy(request: web.Request) -> str:
    """The pages' policy, letting the form be sent on to the collection platform: a link-mode
    POST answers with a redirect to its authorize page."""
    return forms_may_go_on_to(request.app[SERVICES].settings.collection_api_url)


# -- back from the collection platform ----------------------------------------------------------


async def collection_callback(request: web.Request) -> web.Response:
    services, query = request.app[SERVICES], request.query
    remember_secrets(query.get("code"), query.get("state"))  # masked in the access log too
    me = await signed_in(request)
    language = language_of(request, me.user.language if me else None)
    try:
        installation, state = await complete_link(
            services,
            state=query.get("state", ""),
            code=query.get("code", ""),
            error=query.get("error", ""),
        )
    except LinkRefused as exc:
        log.info("collection link refused", extra={"code": exc.code})
        context: dict[str, Any] = {"refused": exc, "message": _link_refusal(language, exc)}
        return _callback_page(request, language, context, status=exc.status)
    finished, error = None, None
    try:
        choices = msgspec.convert(state.choices, OnboardingChoices)
        outcome = await onboard(services, installation, choices, actor=state.actor)
        finished = outcome if isinstance(outcome, Finished) else None
    except OnboardingError as exc:
        error = _refusal(exc.code, exc.message)
    except msgspec.ValidationError:
        error = _refusal("choices_lost", "")
    context = {
        "refused": None,
        "installation": finished.installation if finished else installation,
        "finished": finished,
        "error": _said_error(translator(language), error),
    }
    return _callback_page(request, language, context)


def _link_refusal(language: Language, exc: LinkRefused) -> str:
    key = f"link_refused_{exc.code}"
    return translator(language)(key) if key in TEXTS else exc.message


def _callback_page(
    request: web.Request, language: Language, context: dict[str, Any], *, status: int = 200
) -> web.Response:
    """The plain frame; its language link comes back to the onboarding page, never to the
    callback (its state is used up)."""
    installation = context.get("installation")
    back = f"/onboarding/{installation.agreement_number}" if installation else "/"
    frame = {"t": translator(language), "lang": language, "next_path": back}
    return _page(request, "onboarding_callback.html", {**frame, **context}, status=status)


def setup_routes(app: web.Application) -> None:
    app.router.add_get(r"/onboarding/{agreement:\d{1,18}}", onboarding_page)
    app.router.add_post(r"/onboarding/{agreement:\d{1,18}}", onboarding_submit)
    app.router.add_get("/install/collection/callback", collection_callback)
