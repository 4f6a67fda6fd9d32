"""Notices by e-mail (issue 13, item 4): what a company's people should act on.

    send_mail(settings, to=…, subject=…, text=…)   one plain-text e-mail; False when it was not
                                                   sent (no SMTP configured, or it failed)
    send_notices(db, settings, now=…)              the ``notices.send`` job: each company's new
                                                   open problems and newly announced handovers
                                                   into one notice, mailed to its admins

Mail goes through ``COLLECTBRIDGE_SMTP_URL`` (`plugin.settings.SmtpServer`) with aiosmtplib;
without it notices show on the dashboard only (`sync.store.notices.Notices.unread`). A failure
to send is logged (the server as ``smtp://user@host:port``, never the password) and answered
with False, never raised: an invitation or a password reset, or the job, carries on, and a
digest not mailed is tried again by the next runs (`MAIL_ATTEMPTS` in all), then given up
(``failed``); the notice stays on the dashboard either way. A try stops at its first failure
(the rest waits for the next run), and a retry mails every admin of the notice again: at least
once, like every effect here.

A digest is written in each admin's language (``users.language``: ``da`` or ``en``), or in
English and Danish for an admin who has not chosen; it is rendered from the notice's ``items``,
so a retry reads as the first try would have.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
from collections.abc import Sequence
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import aiosmtplib
import msgspec
from yarl import URL

from plugin.settings import Settings, SmtpServer
from sync.money import to_text
from sync.redaction import scrub
from sync.store.db import Database
from sync.store.installations import Installation, Installations
from sync.store.notices import MailState, News, Notice, Notices

log = logging.getLogger(__name__)
SMTP_TIMEOUT = 15.0  # seconds, per connection and per command
MAIL_ATTEMPTS = 3  # a digest's tries (one per run of the job) before it is given up
LISTED = 50  # items written out in one e-mail; the rest are counted


async def send_mail(settings: Settings, *, to: str, subject: str, text: str) -> bool:
    """Send one plain-text e-mail; True when the server took it. False when SMTP is not
    configured or the send failed (logged without the password); never raises."""
    smtp = settings.smtp
    if smtp is None:
        return False
    credentials: dict[str, Any] = {}
    if smtp.username and smtp.password is not None:
        credentials = {"username": smtp.username, "password": smtp.password.reveal()}
    try:
        await aiosmtplib.send(
            message_of(settings, to=to, subject=subject, text=text),
            hostname=smtp.host,
            port=smtp.port,
            use_tls=smtp.tls,
            start_tls=start_tls(smtp),
            timeout=SMTP_TIMEOUT,
            **credentials,
        )
    except Exception as exc:  # any failure to send is the caller's False, never a raise
        log.warning("e-mail not sent through %s: %s: %s", smtp, type(exc).__name__, scrub(str(exc)))
        return False
    return True


def start_tls(smtp: SmtpServer) -> bool | None:
    """aiosmtplib's ``start_tls`` for ``smtp``: never on smtps:// (TLS from the first byte);
    on smtp:// with a login required (True: a server that does not offer STARTTLS, or someone
    in between who strips it from the server's answer, fails the send and never sees the
    password), except to a relay on this machine's loopback, whose traffic no one else sees;
    otherwise when the server offers it (None)."""
    if smtp.tls:
        return False
    if smtp.username and smtp.password is not None and not _loopback(smtp.host):
        return True
    return None


def _loopback(host: str) -> bool:
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a name: it may resolve anywhere
        return False


def message_of(settings: Settings, *, to: str, subject: str, text: str) -> EmailMessage:
    """A plain-text message from us (a header with a line break in it raises ValueError)."""
    message = EmailMessage()
    message["From"] = sender(settings)
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(settings))
    message.set_content(text)
    return message


def sender(settings: Settings) -> str:
    smtp = settings.smtp
    return (smtp.sender if smtp else None) or f"collectbridge@{_domain(settings)}"


def _domain(settings: Settings) -> str:
    return URL(settings.public_url).host or "localhost"


# -- the notices.send job -----------------------------------------------------------------------


async def send_notices(db: Database, settings: Settings, *, now: dt.datetime) -> list[Notice]:
    """Every company's news into one notice each (the notices made), then every notice waiting
    to be mailed mailed."""
    made = []
    for installation in await Installations(db).list():
        if installation.status == "deleted":
            continue
        notice = await gather(db, installation, mail=settings.smtp is not None, now=now)
        if notice is not None:
            made.append(notice)
    await mail_pending(db, settings, now=now)
    return made


async def gather(
    db: Database, installation: Installation, *, mail: bool, now: dt.datetime
) -> Notice | None:
    """The company's new open problems and announced handovers as one notice (None: nothing
    new); ``pending`` to be mailed when ``mail`` and the company has an admin."""
    async with db.transaction() as tx:
        notices = Notices(tx)
        news = await notices.take_news(installation.id, now=now)
        if not news:
            return None
        items = digest_items(news)
        subject, body = digest(installation, items, language="en", public_url="")
        state: MailState = (
            "pending" if mail and await notices.recipients(installation.id) else "none"
        )
        return await notices.add(
            installation.id, subject=subject, body=body, items=items, mail_state=state, now=now
        )


async def mail_pending(db: Database, settings: Settings, *, now: dt.datetime) -> int:
    """Mail the notices waiting for it to their companies' admins; how many went out whole."""
    sent = 0
    notices = Notices(db)
    installations = Installations(db)
    for notice in await notices.to_mail():
        installation = await installations.get(notice.installation_id)
        recipients = await notices.recipients(notice.installation_id)
        if installation is None or not recipients or settings.smtp is None:
            await notices.mail_tried(notice.id, state="none", recipients=0, now=now)
            continue
        delivered = 0
        for person in recipients:
            subject, text = digest(
                installation, notice.items, language=person.language, public_url=settings.public_url
            )
            if not await send_mail(settings, to=person.email, subject=subject, text=text):
                break  # the server is down or refuses: the next run tries again
            delivered += 1
        state: MailState = "sent" if delivered == len(recipients) else "pending"
        if state == "pending" and notice.mail_attempts + 1 >= MAIL_ATTEMPTS:
            state = "failed"
        await notices.mail_tried(notice.id, state=state, recipients=delivered, now=now)
        if state != "sent":
            break  # nor the notices after it, this run (a hung server costs one timeout)
        sent += 1
    return sent


# -- what a digest says (pure) -------------------------------------------------------------------


def digest_items(news: News) -> list[dict[str, Any]]:
    """What a digest lists, as stored in the notice (JSON)."""
    problems = [{"kind": "problem", **msgspec.to_builtins(p)} for p in news.problems]
    announced = [{"kind": "handover", **msgspec.to_builtins(a)} for a in news.announcements]
    return problems + announced


def digest(
    installation: Installation,
    items: Sequence[dict[str, Any]],
    *,
    language: str | None,
    public_url: str,
) -> tuple[str, str]:
    """Subject and text of a digest in ``language`` (``da``, ``en``; anything else: both)."""
    if language in ("da", "en"):
        return _subject(installation, items, language), _text(
            installation, items, language, public_url
        )
    subject = f"{_subject(installation, items, 'en')} / {_counts(items, 'da')}"
    text = (
        _text(installation, items, "en", public_url)
        + "\n\n---- Dansk ----\n\n"
        + _text(installation, items, "da", public_url)
    )
    return subject, text


_WORDS = {
    "en": {
        "problems": "problems need action",
        "problem": "problem needs action",
        "handovers": "handovers announced",
        "handover": "handover announced",
        "problems_heading": "Problems that need action:",
        "handovers_heading": (
            "Handovers announced: each is handed over to collection on the day shown unless "
            "someone holds it first."
        ),
        "line": "Invoice {invoice}, customer {customer}, {currency} {amount}: handed over on {day}",
        "more": "… and {n} more",
        "agreement": "agreement",
        "see": "See them in collectbridge:",
    },
    "da": {
        "problems": "problemer kræver handling",
        "problem": "problem kræver handling",
        "handovers": "varslede overdragelser",
        "handover": "varslet overdragelse",
        "problems_heading": "Problemer, der kræver handling:",
        "handovers_heading": (
            "Varslede overdragelser: hver overdrages til inkasso den viste dag, medmindre nogen "
            "stopper den inden."
        ),
        "line": "Faktura {invoice}, kunde {customer}, {currency} {amount}: overdrages {day}",
        "more": "… og {n} mere",
        "agreement": "aftale",
        "see": "Se dem i collectbridge:",
    },
}


def _counts(items: Sequence[dict[str, Any]], language: str) -> str:
    words = _WORDS[language]
    problems = sum(1 for i in items if i["kind"] == "problem")
    handovers = sum(1 for i in items if i["kind"] == "handover")
    parts = []
    if problems:
        parts.append(f"{problems} {words['problem' if problems == 1 else 'problems']}")
    if handovers:
        parts.append(f"{handovers} {words['handover' if handovers == 1 else 'handovers']}")
    return ", ".join(parts)


def _subject(installation: Installation, items: Sequence[dict[str, Any]], language: str) -> str:
    return (
        f"{installation.company_name or installation.agreement_number}: {_counts(items, language)}"
    )


def _text(
    installation: Installation, items: Sequence[dict[str, Any]], language: str, public_url: str
) -> str:
    words = _WORDS[language]
    name = installation.company_name or str(installation.agreement_number)
    lines = [f"{name} ({words['agreement']} {installation.agreement_number})"]
    problems = [i for i in items if i["kind"] == "problem"]
    handovers = [i for i in items if i["kind"] == "handover"]
    if problems:
        lines += ["", words["problems_heading"]]
        lines += [f"- {p['message']}" for p in problems[:LISTED]]
        if len(problems) > LISTED:
            lines.append(words["more"].format(n=len(problems) - LISTED))
    if handovers:
        lines += ["", words["handovers_heading"]]
        lines += [_handover_line(h, language) for h in handovers[:LISTED]]
        if len(handovers) > LISTED:
            lines.append(words["more"].format(n=len(handovers) - LISTED))
    if public_url:
        lines += ["", f"{words['see']} {public_url.rstrip('/')}/settings"]
    return "\n".join(lines) + "\n"


def _handover_line(item: dict[str, Any], language: str) -> str:
    amount = to_text(int(item["remaining"]), str(item["currency"]))
    return "- " + _WORDS[language]["line"].format(
        invoice=item["invoice_number"],
        customer=item["customer_number"],
        currency=item["currency"],
        amount=amount.replace(".", ",") if language == "da" else amount,
        day=item["handover_on"],
    )
