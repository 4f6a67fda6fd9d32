"""Notices by e-mail (issue 13, item 4) on SQLite and PostgreSQL, against a real SMTP server
(aiosmtpd) the test starts on loopback: a company's new problems and handovers announced in a
veto window become one notice, mailed once to each admin in their language; without SMTP the
notice is stored for the dashboard; with the server down it is stored, the failure logged
without the password, and tried again a few times."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from plugin.keys import SERVICES, SETTINGS
from plugin.notices import MAIL_ATTEMPTS, send_mail, send_notices
from plugin.settings import Secret, Settings, SmtpServer, load_settings
from sync import schedules
from sync.jobs import JobQueue
from sync.store.accounts import Accounts
from sync.store.notices import Notices
from sync.store.problems import Problems
from sync.store.users import Users
from tests.integration.sync.support import Company, a_customer, running_company
from tests.integration.sync.test_handover import AUTOMATIC, TODAY, book, bootstrap
from tests.integration.test_api import NOW, Bridge, run_bridge

LOGIN, PASSWORD = "mailer", "smtp-Pa55word-never-logged"


@dataclass
class Mailbox:
    """What the SMTP server received: one envelope per message."""

    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)  # the logins tried (a password was sent)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False)
        with self.lock:
            self.logins.append(auth_data.login.decode())
        given = (auth_data.login, auth_data.password)
        return AuthResult(success=given == (LOGIN.encode(), PASSWORD.encode()))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for rcpt, m in self.messages if address in rcpt]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def outside_address() -> str | None:
    """One of this machine's IPv4 addresses that is not loopback (the route out), if any."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@contextmanager
def smtp_server(host: str = "127.0.0.1") -> Iterator[tuple[Mailbox, SmtpServer]]:
    """An SMTP server on ``host`` that wants our login, offers AUTH over plain text and no
    STARTTLS (so a password reaches it only if the client sends one in the clear)."""
    mailbox = Mailbox()
    port = free_port(host)
    controller = Controller(
        mailbox,
        hostname=host,
        port=port,
        authenticator=mailbox.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield (
            mailbox,
            SmtpServer(host=host, port=port, username=LOGIN, password=Secret(PASSWORD)),
        )
    finally:
        controller.stop()


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


async def admin(bridge: Bridge, company: Any, email: str, language: str | None = None) -> None:
    await bridge.person(email, [(company, "admin")])
    if language is not None:
        user = await Users(bridge.db).get_by_email(email)
        assert user is not None
        await Accounts(bridge.db).set_language(user.id, language)


async def notices_job(company: Company) -> None:
    """The ``notices.send`` job, run by the worker now."""
    clock = company.bridge.clock
    job = await company.services.queue.enqueue(schedules.notices(run_at=clock()), now=clock())
    await company.settle()
    done = await company.job(job)
    assert done.state == "succeeded", done.last_error


async def test_problems_and_an_announced_handover_mail_each_admin_once_in_their_language(
    database_url: str,
) -> None:
    policy_ = {**AUTOMATIC, "notice_days": 3}
    with smtp_server() as (mailbox, smtp):
        async with running_company(
            database_url, invoices=0, settings={"policy": policy_}, app={"smtp": smtp}
        ) as company:
            bridge = company.bridge
            await admin(bridge, company.installation, "admin-da@example.dk", "da")
            await admin(bridge, company.installation, "admin-en@example.com", "en")
            await admin(bridge, company.installation, "admin@example.net")  # no language chosen
            await bridge.person("guest@example.dk", [(company.installation, "guest")])
            number = await book(
                company, a_customer(company), due=TODAY - dt.timedelta(days=20), amount="1019.99"
            )
            await bootstrap(company)
            claim = {c.invoice_number: c for c in await company.claims()}[number]
            assert claim.state == "scheduled" and claim.handover_on == TODAY + dt.timedelta(3)
            await Problems(bridge.db).record(
                installation_id=company.installation.id,
                category="missing_data",
                code="missing_name",
                subject="customer:77",
                message="Customer 77 has no name: a debtor needs one",
                now=bridge.clock(),
            )

            await notices_job(company)

            (notice,) = await Notices(bridge.db).unread(company.installation.id)
            assert (notice.mail_state, notice.recipients) == ("sent", 3)
            kinds = [(i["kind"], i.get("invoice_number") or i.get("code")) for i in notice.items]
            assert ("handover", number) in kinds and ("problem", "missing_name") in kinds
            assert len(mailbox.messages) == 3 and not mailbox.to("guest@example.dk")
            (danish,) = mailbox.to("admin-da@example.dk")
            (english,) = mailbox.to("admin-en@example.com")
            (both,) = mailbox.to("admin@example.net")
            company_name = company.installation.company_name
            assert danish["Subject"].startswith(company_name)
            assert "1 varslet overdragelse" in danish["Subject"]
            assert "1 problem kræver handling" in danish["Subject"]
            assert "handover announced" not in danish["Subject"]
            assert "1 handover announced" in english["Subject"]
            assert "varslet" not in english["Subject"]
            assert "1 handover announced" in both["Subject"] and "varslet" in both["Subject"]
            due = claim.handover_on.isoformat()
            assert f"Faktura {number}" in text_of(danish) and "1019,99" in text_of(danish)
            assert f"Invoice {number}" in text_of(english) and due in text_of(english)
            assert "Customer 77 has no name" in text_of(english)
            assert f"Invoice {number}" in text_of(both) and f"Faktura {number}" in text_of(both)
            assert all(m["To"] for _, m in mailbox.messages)
            assert bridge.url in text_of(english)

            # Nothing new: the next runs mail nothing; the same problem seen again is not new.
            await Problems(bridge.db).record(
                installation_id=company.installation.id,
                category="missing_data",
                code="missing_name",
                subject="customer:77",
                message="Customer 77 has no name: a debtor needs one",
                now=bridge.clock(),
            )
            await notices_job(company)
            await notices_job(company)
            assert len(mailbox.messages) == 3
            assert len(await Notices(bridge.db).unread(company.installation.id)) == 1
            # The job put its next run in the queue.
            jobs = [j for j in await JobQueue(bridge.db).list() if j.kind == "notices.send"]
            (queued,) = [j for j in jobs if j.state == "queued"]
            assert queued.run_at == bridge.clock() + schedules.NOTICES_EVERY


async def record_problem(bridge: Bridge, installation_id: int, subject: str) -> None:
    await Problems(bridge.db).record(
        installation_id=installation_id,
        category="ledger_refused",
        code="http_403",
        subject=subject,
        message=f"e-conomic refused {subject}",
        now=NOW,
    )


async def test_without_smtp_the_notice_is_kept_for_the_dashboard_and_nothing_fails(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with run_bridge(database_url) as bridge:
        company = await bridge.company(1001)
        other = await bridge.company(1002)
        await admin(bridge, company, "admin@example.dk")
        await record_problem(bridge, company.id, "invoice:5")
        settings = bridge.app[SETTINGS]
        assert settings.smtp is None
        caplog.set_level(logging.WARNING)

        made = await send_notices(bridge.db, settings, now=NOW)

        assert [n.installation_id for n in made] == [company.id]
        (notice,) = await Notices(bridge.db).unread(company.id)
        assert notice.mail_state == "none" and notice.subject.startswith("Company 1001")
        assert "e-conomic refused invoice:5" in notice.body
        assert await Notices(bridge.db).unread(other.id) == []
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert await send_mail(settings, to="someone@example.dk", subject="s", text="t") is False
        # Read from the dashboard: it leaves the unread list, once.
        notices = Notices(bridge.db)
        assert not await notices.mark_read(other.id, notice.id, by="x@example.dk", now=NOW)
        assert await notices.mark_read(company.id, notice.id, by="admin@example.dk", now=NOW)
        assert not await notices.mark_read(company.id, notice.id, by="admin@example.dk", now=NOW)
        assert await notices.unread(company.id) == []
        assert await send_notices(bridge.db, settings, now=NOW) == []  # nothing new


async def test_smtp_down_keeps_the_notice_and_logs_the_error_without_the_password(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()  # nothing listens there
    down = SmtpServer(host="127.0.0.1", port=port, username=LOGIN, password=Secret(PASSWORD))
    async with run_bridge(database_url, smtp=down) as bridge:
        company = await bridge.company(1001)
        await admin(bridge, company, "admin@example.dk")
        await record_problem(bridge, company.id, "invoice:5")
        settings: Settings = bridge.app[SETTINGS]
        caplog.set_level(logging.INFO)

        await send_notices(bridge.db, settings, now=NOW)

        (notice,) = await Notices(bridge.db).unread(company.id)
        assert (notice.mail_state, notice.mail_attempts, notice.recipients) == ("pending", 1, 0)
        warnings = [r for r in caplog.records if r.name == "plugin.notices"]
        assert warnings and f"smtp://{LOGIN}@127.0.0.1:{port}" in warnings[0].getMessage()
        assert PASSWORD not in caplog.text
        for _ in range(MAIL_ATTEMPTS - 1):
            await send_notices(bridge.db, settings, now=NOW)
        (notice,) = await Notices(bridge.db).unread(company.id)
        assert (notice.mail_state, notice.mail_attempts) == ("failed", MAIL_ATTEMPTS)
        assert PASSWORD not in caplog.text
        assert await send_mail(settings, to="a@example.dk", subject="s", text="t") is False
        assert PASSWORD not in caplog.text


async def test_send_mail_delivers_an_invitation_and_a_wrong_password_is_false(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with smtp_server() as (mailbox, smtp):
        async with run_bridge(database_url, smtp=smtp) as bridge:
            settings = bridge.app[SETTINGS]
            sent = await send_mail(
                settings,
                to="new.person@example.dk",
                subject="You are invited to Company 1001",
                text="Follow the link: https://example.invalid/invite/abc",
            )
            assert sent is True
            ((rcpt, message),) = mailbox.messages
            assert rcpt == ["new.person@example.dk"]
            assert message["Subject"] == "You are invited to Company 1001"
            assert message["To"] == "new.person@example.dk"
            assert message["From"] == "collectbridge@127.0.0.1"
            assert "https://example.invalid/invite/abc" in text_of(message)

            wrong = SmtpServer(
                host=smtp.host, port=smtp.port, username=LOGIN, password=Secret("wrong-pw-xyz")
            )
            caplog.set_level(logging.WARNING)
            refused = await send_mail(
                Settings(**{**_fields(settings), "smtp": wrong}),
                to="a@example.dk",
                subject="s",
                text="t",
            )
            assert refused is False and len(mailbox.messages) == 1
            injected = await send_mail(
                settings, to="a@example.dk\nBcc: x@y.z", subject="s", text="t"
            )
            assert injected is False and len(mailbox.messages) == 1  # refused, never raised
            assert "wrong-pw-xyz" not in caplog.text and PASSWORD not in caplog.text
            assert bridge.app[SERVICES].settings.smtp == smtp


def _fields(settings: Settings) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in settings.__struct_fields__}


async def test_a_password_never_goes_in_the_clear_to_a_server_off_this_machine(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """smtp:// with a login: STARTTLS is required unless the server is on loopback, so a server
    that offers no STARTTLS (or someone in between who strips it) never gets the password."""
    if (address := outside_address()) is None:
        pytest.skip("this machine has no address but loopback to serve SMTP on")
    caplog.set_level(logging.WARNING)
    with smtp_server(address) as (mailbox, smtp):
        sent = await send_mail(Settings(smtp=smtp), to="a@example.dk", subject="s", text="t")
        assert sent is False
        assert mailbox.logins == [] and mailbox.messages == []
        assert "STARTTLS" in caplog.text and PASSWORD not in caplog.text
        # Without a login there is nothing to protect: mailed as before, TLS when offered.
        anonymous = SmtpServer(host=smtp.host, port=smtp.port)
        assert await send_mail(Settings(smtp=anonymous), to="a@example.dk", subject="s", text="t")
        assert len(mailbox.messages) == 1
    with smtp_server() as (mailbox, smtp):  # a relay on this machine: its loopback is private
        assert await send_mail(Settings(smtp=smtp), to="a@example.dk", subject="s", text="t")
        assert mailbox.logins == [LOGIN]


def test_the_smtp_url_is_read_with_its_password_masked() -> None:
    settings = load_settings(
        {"COLLECTBRIDGE_SMTP_URL": "smtps://mailer:p%40ss-word@mail.example.dk?from=no@ex.dk"}
    )
    assert settings.smtp == SmtpServer(
        host="mail.example.dk",
        port=465,
        tls=True,
        username="mailer",
        password=Secret("p@ss-word"),
        sender="no@ex.dk",
    )
    assert "p@ss-word" not in repr(settings) and "p@ss-word" not in str(settings.smtp)
    assert {"p@ss-word", "p%40ss-word"} <= set(settings.secret_values())
    plain = load_settings({"COLLECTBRIDGE_SMTP_URL": "smtp://relay.example.dk:2525"})
    assert plain.smtp == SmtpServer(host="relay.example.dk", port=2525)
    assert load_settings({}).smtp is None
    with pytest.raises(Exception, match="COLLECTBRIDGE_SMTP_URL") as raised:
        load_settings({"COLLECTBRIDGE_SMTP_URL": "http://u:secret-pw@x"})
    assert "secret-pw" not in str(raised.value)
