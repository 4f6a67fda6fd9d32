"""An installation's secrets are known to the redaction from the moment they are decrypted or
stored: an error that carries one (in a log line, in a job's stored error) shows it masked.
Known secret values, on both engines."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import sys

from plugin.logs import ContextFilter, JsonFormatter
from sync import redaction
from sync.clients.collection_auth import StoredTokens
from sync.clients.collection_tokens import DatabaseTokenStore
from sync.crypto import TokenCipher
from sync.redaction import MASK, scrub
from sync.store.db import Database
from sync.store.installations import Installations

CIPHER = TokenCipher(["redaction-test-secret-key-0123456789abc"])


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def known_pair() -> StoredTokens:
    return StoredTokens(
        access_token=f"at_{secrets.token_urlsafe(16)}",
        refresh_token=f"rt_{secrets.token_urlsafe(16)}",
        expires_at=utcnow() + dt.timedelta(hours=1),
    )


async def stored_in_another_process(db: Database) -> int:
    """An installation whose tokens another process stored (this one has not seen them)."""
    installation = await Installations(db).create(
        agreement_number=31337, company_name="c", now=utcnow()
    )
    with redaction.fresh_process():  # the other process's
        await DatabaseTokenStore(db, CIPHER).save_tokens(
            installation.id, known_pair(), now=utcnow()
        )
    return installation.id


def logged(message: str, *args: object, error: BaseException | None = None) -> str:
    record = logging.LogRecord("sync.worker", logging.ERROR, __file__, 1, message, args, None)
    if error is not None:
        record.exc_info = (type(error), error, error.__traceback__)
    ContextFilter([]).filter(record)
    return JsonFormatter().format(record)


async def test_loaded_tokens_are_masked_in_logs_and_job_errors(db: Database) -> None:
    installation_id = await stored_in_another_process(db)
    with redaction.fresh_process():  # this process: none of them known yet
        tokens = await DatabaseTokenStore(db, CIPHER).load_tokens(installation_id)
        assert tokens is not None
        try:
            raise RuntimeError(f"401 for Authorization: Bearer {tokens.access_token}")
        except RuntimeError:
            error = sys.exc_info()[1]
        line = logged("refresh with %s failed", tokens.refresh_token, error=error)
        assert tokens.access_token not in line and tokens.refresh_token not in line
        assert MASK in line and "RuntimeError" in line
        # The text a failed job stores as its last error passes the same redaction.
        assert scrub(str(error)) == f"401 for Authorization: Bearer {MASK}"


async def test_a_stored_pair_is_known_before_it_is_used(db: Database) -> None:
    installation = await Installations(db).create(
        agreement_number=31338, company_name="c", now=utcnow()
    )
    pair = known_pair()
    await DatabaseTokenStore(db, CIPHER).save_tokens(installation.id, pair, now=utcnow())
    text = f"{pair.access_token} / {pair.refresh_token}"
    assert scrub(text) == f"{MASK} / {MASK}"
