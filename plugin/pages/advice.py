"""What to do about each kind of problem, in both languages; a kind without advice here shows
the problem's own message (`sync.store.problems.Problem.message`), which always says what
happened."""

from __future__ import annotations

ADVICE: dict[str, tuple[str, str]] = {
    "economic_auth_lost": (
        "e-conomic no longer lets the app in (the app was removed or its access revoked). Install it again from e-conomic; nothing already synced is lost.",
        "e-conomic lukker ikke længere appen ind (appen er fjernet, eller adgangen er trukket tilbage). Installer den igen fra e-conomic; intet, der allerede er synkroniseret, går tabt.",
    ),
    "collection_auth_lost": (
        "The link to the collection account was revoked. An admin links it again from onboarding; jobs wait meanwhile.",
        "Forbindelsen til inkassokontoen er trukket tilbage. En administrator forbinder den igen under opsætning; job venter imens.",
    ),
    "onboarding_journal_missing": (
        "Create a daybook (journal) named collectbridge in e-conomic, then finish onboarding.",
        "Opret en kassekladde ved navn collectbridge i e-conomic, og afslut så opsætningen.",
    ),
    "onboarding_accounts_missing": (
        "Choose the accounts for interest, fees, losses and output VAT in settings.",
        "Vælg konti til renter, gebyrer, tab og udgående moms under indstillinger.",
    ),
    "unknown_currency": (
        "An invoice is in a currency the app does not know; it is left out until it is supported. Contact support.",
        "En faktura er i en valuta, appen ikke kender; den udelades, indtil den understøttes. Kontakt support.",
    ),
    "budget_exhausted": (
        "Today's e-conomic call budget is used up; syncing continues by itself when it refills.",
        "Dagens budget af kald til e-conomic er brugt; synkroniseringen fortsætter af sig selv, når det fyldes op.",
    ),
    "claim_rejected": (
        "The collection platform refused a claim. Open the claim, correct the invoice or customer in e-conomic, then resync it.",
        "Inkassoplatformen afviste en fordring. Åbn fordringen, ret fakturaen eller kunden i e-conomic, og synkroniser den igen.",
    ),
    "voucher_refused": (
        "e-conomic refused a voucher. Check the journal and accounts in settings, then retry the write on the Bookkeeping page.",
        "e-conomic afviste et bilag. Kontroller kassekladde og konti under indstillinger, og prøv skrivningen igen på siden Bogføring.",
    ),
    "outbox_dead": (
        "A write to e-conomic failed for good. Retry it on the Bookkeeping page once the cause is fixed.",
        "En skrivning til e-conomic mislykkedes endegyldigt. Prøv den igen på siden Bogføring, når årsagen er rettet.",
    ),
    "payment_unsettled": (
        "A collector's payment was booked but the invoice's remainder did not drop by it: in e-conomic, match the customer payment in the app's journal to the invoice.",
        "En indbetaling via inkasso er bogført, men fakturaens restbeløb faldt ikke tilsvarende: udlign kundeindbetalingen i appens kassekladde med fakturaen i e-conomic.",
    ),
    "changes_unannounced": (
        "e-conomic's changes arrive only with the scans, not as webhooks: paste the legacy webhook URLs from onboarding into e-conomic again, or check the Webhooks API subscriptions.",
        "Ændringer i e-conomic kommer kun med gennemløbene, ikke som webhooks: indsæt webhook-adresserne fra opsætningen i e-conomic igen, eller kontroller abonnementerne i Webhooks API.",
    ),
    "handover_without_case": (
        "The customer has no address, e-mail or e-invoice identifier the collector can reach: add one in e-conomic, then approve the claim again.",
        "Kunden har ingen adresse, e-mail eller e-faktura-id, som inkassobureauet kan nå: tilføj en i e-conomic, og godkend så fordringen igen.",
    ),
}


def advice_for(code: str, language: str) -> str | None:
    texts = ADVICE.get(code)
    return texts[1 if language == "da" else 0] if texts else None
