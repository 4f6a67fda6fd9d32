"""``collectbridge onboard <agreement> [--defaults]``: onboarding for the operator.

With ``--defaults`` the company is onboarded with every default (`plugin.onboarding.flow`): a
new collection account, the app's own journal, the accounts recognised in the chart, the
manual policy, the default channels, webhooks on both sides; the last line printed is
``bootstrap job <id>``. The audit log names the actor ``cli``.

Without ``--defaults`` nothing is changed and nothing is asked: the choices the defaults would
make are printed (read from e-conomic), and the command exits 2 saying ``--defaults`` applies
them — a script never half-onboards a company by leaving out a flag.

Exit codes: 0 onboarded; 1 the company already has a collection account (the link URL is
printed: an admin opens it, or the page offers it) or a platform failed; 2 an agreement that is
not installed, an installation that cannot be onboarded, or no ``--defaults``.
"""

from __future__ import annotations

import sys

from plugin.bootstrap import Services, open_services
from plugin.connections import Connections
from plugin.onboarding.choices import OnboardingChoices, OnboardingError, Resolved
from plugin.onboarding.collection import Linking
from plugin.onboarding.flow import Finished, onboard, plan
from plugin.people_cli import CLI_ACTOR
from plugin.settings import Settings
from sync.errors import SyncError
from sync.store.installations import Installation, Installations


def describe(resolved: Resolved) -> list[str]:
    journal = (
        f"{resolved.journal_number} {resolved.journal_name}"
        if resolved.journal_number is not None
        else "none found (create a journal named collectbridge in e-conomic)"
    )
    accounts = resolved.accounts
    policy = resolved.policy
    lines = [
        f"  collection: {resolved.collection_mode} an account",
        f"  journal: {journal}",
        f"  accounts: interest income {accounts.interest_income}, fee income "
        f"{accounts.fee_income}, loss {accounts.loss}, output VAT {accounts.output_vat}",
        f"  policy: {policy.mode}, {policy.min_days_overdue} days overdue, minimum "
        f"{policy.min_amount} (minor units), start {policy.start_step}",
        f"  channels: {', '.join(resolved.channels)}",
    ]
    lines.extend(f"  note: {note.message}" for note in resolved.notes)
    return lines


async def run_onboard(settings: Settings, agreement: int, *, defaults: bool) -> int:
    async with open_services(settings) as services:
        installation = await Installations(services.db).get_by_agreement(agreement)
        if installation is None:
            print(f"collectbridge: agreement {agreement} is not installed", file=sys.stderr)
            return 2
        if not defaults:
            return await _dry_run(services, installation)
        try:
            outcome = await onboard(services, installation, OnboardingChoices(), actor=CLI_ACTOR)
        except OnboardingError as exc:
            print(f"collectbridge: {exc.message} ({exc.code})", file=sys.stderr)
            return 2 if exc.status in (409, 422) and exc.code != "onboarding_running" else 1
    if isinstance(outcome, Linking):
        print(
            f"collectbridge: {agreement} already has a collection account: an admin links it at",
            file=sys.stderr,
        )
        print(outcome.authorize_url)
        return 1
    return _report(outcome)


async def _dry_run(services: Services, installation: Installation) -> int:
    try:
        economic = await Connections(services).economic(installation)
        resolved = await plan(economic, OnboardingChoices())
    except (SyncError, OnboardingError) as exc:
        print(f"collectbridge: {exc.message}", file=sys.stderr)
        return 1
    print(f"{installation.agreement_number} {installation.company_name}: with --defaults")
    print("\n".join(describe(resolved)))
    print(
        "collectbridge: nothing was changed; run again with --defaults to onboard",
        file=sys.stderr,
    )
    return 2


def _report(finished: Finished) -> int:
    after = finished.installation
    hooks = after.settings.get("webhooks", {})
    print(f"{after.agreement_number} {after.company_name}: onboarded")
    print("\n".join(describe(finished.resolved)))
    print(f"  collection account: {after.collection_account_id} ({after.collection_state})")
    print(
        f"  webhooks: e-conomic {hooks.get('economic', {}).get('mode')}, "
        f"collection {hooks.get('collection', {}).get('state')}"
    )
    for note in finished.notes[len(finished.resolved.notes) :]:
        print(f"  note: {note.message}")
    print(f"bootstrap job {finished.bootstrap_job_id}")
    return 0
