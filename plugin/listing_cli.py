"""What the CLI's list commands share (``inbox list``, ``outbox list``): the ``--state``,
``--agreement`` and ``--limit`` options, and the agreement given turned into its installation."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from sync.store.db import Database
from sync.store.installations import Installations

UNKNOWN = -1  # an agreement that is not installed: the command says so and exits 2


def add_listing_options(
    listing: argparse.ArgumentParser, *, states: Sequence[str], state_help: str
) -> None:
    listing.add_argument("--state", choices=list(states), help=state_help)
    listing.add_argument(
        "--agreement", type=int, default=None, help="only this company's (default: every one)"
    )
    listing.add_argument("--limit", type=int, default=100, help="list at most this many")


async def installation_of(db: Database, agreement: int | None) -> int | None:
    """The installation id of ``--agreement`` (None: every company; `UNKNOWN`, printed, when no
    installation has that agreement)."""
    if agreement is None:
        return None
    found = await Installations(db).get_by_agreement(agreement)
    if found is None:
        print(f"no installation of agreement {agreement}")
        return UNKNOWN
    return found.id
