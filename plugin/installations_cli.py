"""``collectbridge disconnect <agreement>``: the API's ``POST …/disconnect``, for the operator.

The installation becomes ``revoked``, its jobs are parked and its collection grant is revoked
where it is linked (`plugin.lifecycle`); the audit log names the actor ``cli``. An agreement
that is not installed, or an installation whose status forbids it, changes nothing (exit 2).
"""

from __future__ import annotations

import sys

from plugin.bootstrap import open_services
from plugin.lifecycle import InvalidState, Lifecycle
from plugin.people_cli import CLI_ACTOR
from plugin.settings import Settings
from sync.store.installations import Installations


async def run_disconnect(settings: Settings, agreement: int) -> int:
    async with open_services(settings) as services:
        installation = await Installations(services.db).get_by_agreement(agreement)
        if installation is None:
            print(f"collectbridge: agreement {agreement} is not installed", file=sys.stderr)
            return 2
        try:
            after = await Lifecycle(services).disconnect(installation, actor=CLI_ACTOR)
        except InvalidState as exc:
            print(f"collectbridge: {exc.message} (nothing was changed)", file=sys.stderr)
            return 2
    print(f"{after.agreement_number} {after.company_name}: {after.status}")
    print(f"  collection link: {after.collection_state}")
    return 0
