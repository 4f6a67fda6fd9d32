"""A worker process for the multi-process token tests (run with ``python -m``).

    python -m tests.integration.collection.refresh_worker DB_URL API_URL INSTALLATION CALLERS [hang]

Runs CALLERS concurrent ``GET /v1/account`` calls through one client and prints one JSON line
``{"ok": n, "errors": [...]}``. With ``hang`` it prints ``GOT_PAIR`` as soon as a token answer
arrives and then waits, before storing it, for the test to kill it.
"""

from __future__ import annotations

import asyncio
import json
import sys

import aiohttp

from sync.clients.collection_types import TokenResponse
from sync.store.db import open_database
from tests.fixtures.collection import CLIENT_ID, CLIENT_SECRET
from tests.integration.collection.support import CIPHER, make_client


async def main(db_url: str, api_url: str, installation_id: int, callers: int, hang: bool) -> None:
    from sync.clients.collection_tokens import DatabaseTokenStore

    db = await open_database(db_url)

    async def stop_here(answer: TokenResponse) -> None:
        print("GOT_PAIR", flush=True)
        await asyncio.Event().wait()

    async with aiohttp.ClientSession() as session:
        client = make_client(
            session,
            api_url,
            DatabaseTokenStore(db, CIPHER),
            installation_id,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            after_token_answer=stop_here if hang else None,
        )
        results = await asyncio.gather(
            *(client.account() for _ in range(callers)), return_exceptions=True
        )
    await db.close()
    errors = [repr(r) for r in results if isinstance(r, BaseException)]
    print(json.dumps({"ok": len(results) - len(errors), "errors": errors}), flush=True)


if __name__ == "__main__":
    url, api, installation, count = sys.argv[1:5]
    asyncio.run(main(url, api, int(installation), int(count), "hang" in sys.argv[5:]))
