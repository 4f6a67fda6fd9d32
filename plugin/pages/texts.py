"""The words of the pages, in English and Danish, and which of the two a request reads.

Every text is one entry ``key: (english, danish)``, so a text cannot exist in one language
only. A person's choice (`sync.store.users.User.language`, or the ``collectbridge_lang``
cookie before they sign in) wins; otherwise the browser's ``Accept-Language``; otherwise
English. Placeholders are ``str.format`` fields filled by the page (``t("key", n=3)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, get_args

from aiohttp import web

Language = Literal["en", "da"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
LANGUAGE_COOKIE = "collectbridge_lang"
Translate = Callable[..., str]

TEXTS: dict[str, tuple[str, str]] = {
    # The frame of every page
    "app_name": ("collectbridge", "collectbridge"),
    "skip_to_content": ("Skip to content", "Gå til indhold"),
    "main_navigation": ("Main navigation", "Hovedmenu"),
    "company_in_view": ("Company", "Virksomhed"),
    "switch_company": ("Switch company", "Skift virksomhed"),
    "switch_company_search": (
        "Company name or agreement number",
        "Virksomhedsnavn eller aftalenummer",
    ),
    "switch": ("Switch", "Skift"),
    "all_companies": ("All companies", "Alle virksomheder"),
    "sign_out": ("Sign out", "Log ud"),
    "account": ("Your account", "Din konto"),
    "language": ("Language", "Sprog"),
    "nav_dashboard": ("Dashboard", "Overblik"),
    "nav_claims": ("Claims", "Fordringer"),
    "nav_approvals": ("Approvals", "Godkendelser"),
    "nav_resync": ("Resync", "Synkroniser igen"),
    "nav_settings": ("Settings", "Indstillinger"),
    "nav_users": ("Users", "Brugere"),
    "nav_audit": ("Audit log", "Revisionslog"),
    "nav_tokens": ("API tokens", "API-nøgler"),
    "role_guest": ("Guest", "Gæst"),
    "role_caseworker": ("Caseworker", "Sagsbehandler"),
    "role_admin": ("Admin", "Administrator"),
    "your_role": ("Your role: {role}", "Din rolle: {role}"),
    "back": ("Back", "Tilbage"),
    "save": ("Save", "Gem"),
    "search": ("Search", "Søg"),
    "none_yet": ("Nothing yet.", "Intet endnu."),
    "never": ("never", "aldrig"),
    # Errors
    "not_found_title": ("Not found", "Ikke fundet"),
    "not_found_text": (
        "There is no such page, or it belongs to a company you are not a member of.",
        "Siden findes ikke, eller den hører til en virksomhed, du ikke er medlem af.",
    ),
    "forbidden_title": ("Not allowed", "Ikke tilladt"),
    "forbidden_role": (
        "This needs the {role} role in the company.",
        "Det kræver rollen {role} i virksomheden.",
    ),
    "forbidden_csrf": (
        "The form had expired or did not come from this site. Go back, reload the page and try again.",
        "Formularen var udløbet eller kom ikke fra dette websted. Gå tilbage, genindlæs siden og prøv igen.",
    ),
    "refused_title": ("That did not work", "Det lykkedes ikke"),
    # Signing in
    "sign_in": ("Sign in", "Log ind"),
    "email": ("E-mail", "E-mail"),
    "password": ("Password", "Adgangskode"),
    "new_password": ("New password", "Ny adgangskode"),
    "repeat_password": ("Repeat the password", "Gentag adgangskoden"),
    "current_password": ("Current password", "Nuværende adgangskode"),
    "forgot_password": ("Forgot your password?", "Glemt din adgangskode?"),
    "sign_in_failed": (
        "The e-mail or the password is wrong.",
        "E-mail eller adgangskode er forkert.",
    ),
    "too_many_attempts": (
        "Too many failed attempts. Wait 15 minutes and try again.",
        "For mange mislykkede forsøg. Vent 15 minutter, og prøv igen.",
    ),
    "no_account_yet": (
        "No account yet? Install the app from e-conomic, or ask an admin of your company for an invitation.",
        "Ingen konto endnu? Installer appen fra e-conomic, eller bed en administrator i virksomheden om en invitation.",
    ),
    "code_title": ("Two-factor code", "Tofaktorkode"),
    "code_label": (
        "6-digit code from your authenticator app",
        "6-cifret kode fra din godkendelsesapp",
    ),
    "code_wrong": ("The code is wrong or has expired.", "Koden er forkert eller udløbet."),
    "continue": ("Continue", "Fortsæt"),
    "forgot_title": ("Reset your password", "Nulstil din adgangskode"),
    "forgot_text": (
        "Enter your e-mail. If it belongs to an account, we send a link to set a new password; it works for one hour.",
        "Skriv din e-mail. Hører den til en konto, sender vi et link til at vælge en ny adgangskode; det virker i en time.",
    ),
    "forgot_sent": (
        "If the address belongs to an account, a link is on its way. Without e-mail set up, ask an admin of your company for a reset link.",
        "Hører adressen til en konto, er et link på vej. Er e-mail ikke sat op, så bed en administrator i virksomheden om et nulstillingslink.",
    ),
    "send_link": ("Send the link", "Send linket"),
    "reset_title": ("Choose a new password", "Vælg en ny adgangskode"),
    "link_expired": (
        "This link has expired or has been used. Ask for a new one.",
        "Linket er udløbet eller allerede brugt. Bed om et nyt.",
    ),
    "passwords_differ": ("The two passwords differ.", "De to adgangskoder er forskellige."),
    "password_too_short": (
        "Choose a password of at least 10 characters.",
        "Vælg en adgangskode på mindst 10 tegn.",
    ),
    "password_too_long": ("That password is too long.", "Adgangskoden er for lang."),
    "password_is_email": (
        "The password must not be your e-mail address.",
        "Adgangskoden må ikke være din e-mailadresse.",
    ),
    "password_wrong": ("The current password is wrong.", "Den nuværende adgangskode er forkert."),
    # Invitations
    "invite_title": ("Join {company}", "Bliv en del af {company}"),
    "invite_text": (
        "You are invited to {company} (agreement {agreement}) as {role}.",
        "Du er inviteret til {company} (aftale {agreement}) som {role}.",
    ),
    "invite_existing": (
        "You already have an account as {email}: enter its password to accept.",
        "Du har allerede en konto som {email}: skriv dens adgangskode for at acceptere.",
    ),
    "your_name": ("Your name", "Dit navn"),
    "accept_invitation": ("Accept the invitation", "Accepter invitationen"),
    # Account
    "account_title": ("Your account", "Din konto"),
    "name": ("Name", "Navn"),
    "account_saved": ("Saved.", "Gemt."),
    "change_password": ("Change password", "Skift adgangskode"),
    "set_password": ("Set a password", "Vælg en adgangskode"),
    "set_password_text": (
        "You signed in through e-conomic. Set a password to sign in here directly.",
        "Du loggede ind via e-conomic. Vælg en adgangskode for at logge ind her direkte.",
    ),
    "two_factor": ("Two-factor sign-in", "Tofaktor-login"),
    "two_factor_on": ("Two-factor sign-in is on.", "Tofaktor-login er slået til."),
    "two_factor_off": (
        "Two-factor sign-in is off. Turn it on to ask for a code from an authenticator app at every sign-in.",
        "Tofaktor-login er slået fra. Slå det til for at bede om en kode fra en godkendelsesapp ved hvert login.",
    ),
    "two_factor_setup": (
        "Add this key to your authenticator app, then enter the code it shows.",
        "Tilføj denne nøgle i din godkendelsesapp, og skriv så koden, den viser.",
    ),
    "two_factor_key": ("Key", "Nøgle"),
    "turn_on": ("Turn on", "Slå til"),
    "turn_off": ("Turn off", "Slå fra"),
    # Companies and the dashboard
    "add_company": ("Add a client company", "Tilføj en klientvirksomhed"),
    "add_company_text": (
        "e-conomic grants access one agreement at a time: “Add a client company” installs the app for the next agreement and links it to you.",
        "e-conomic giver adgang til én aftale ad gangen: “Tilføj en klientvirksomhed” installerer appen for den næste aftale og knytter den til dig.",
    ),
    "companies_caption": ("The companies you look after", "De virksomheder, du passer"),
    "company": ("Company", "Virksomhed"),
    "status": ("Status", "Status"),
    "problems": ("Problems", "Problemer"),
    "in_collection": ("In collection", "Til inkasso"),
    "your_role_short": ("Your role", "Din rolle"),
    "no_companies": (
        "You are not a member of any company yet. Install the app from e-conomic or ask an admin for an invitation.",
        "Du er endnu ikke medlem af nogen virksomhed. Installer appen fra e-conomic, eller bed en administrator om en invitation.",
    ),
    "status_pending": ("Pending", "Afventer"),
    "status_active": ("Active", "Aktiv"),
    "status_paused": ("Paused", "Sat på pause"),
    "status_revoked": ("Access revoked", "Adgang trukket tilbage"),
    "status_deleted": ("Deleted", "Slettet"),
    "onboarding_pending": ("Onboarding is not finished.", "Opsætningen er ikke færdig."),
    "onboarding_finish": ("Finish onboarding", "Afslut opsætningen"),
    "connections": ("Connections", "Forbindelser"),
    "collection_account": ("Collection account", "Inkassokonto"),
    "webhooks": ("e-conomic webhooks", "e-conomic-webhooks"),
    "connection_ok": ("Connected", "Forbundet"),
    "connection_lost": ("Lost", "Mistet"),
    "connection_none": ("Not linked", "Ikke forbundet"),
    "last_sync": ("Last successful sync", "Seneste vellykkede synkronisering"),
    "stream": ("Stream", "Strøm"),
    "last_success": ("Last success", "Seneste succes"),
    "lag": ("Lag", "Forsinkelse"),
    "stream_customers": ("Customers", "Kunder"),
    "stream_invoices": ("Invoices", "Fakturaer"),
    "stream_events": ("Collection events", "Inkassohændelser"),
    "economic_calls": ("e-conomic calls, last 24 hours", "Kald til e-conomic, seneste 24 timer"),
    "calls_of": ("of e-conomic's {limit} a day", "af e-conomics {limit} om dagen"),
    "own_ceiling": ("The app's own ceiling: {limit} a day.", "Appens eget loft: {limit} om dagen."),
    "open_problems": ("Open problems", "Åbne problemer"),
    "what_to_do": ("What to do:", "Det skal du gøre:"),
    "no_problems": ("No open problems.", "Ingen åbne problemer."),
    "aging": ("Overdue amounts by age", "Forfaldne beløb efter alder"),
    "aging_of": (
        "Overdue amounts in {currency} by days overdue",
        "Forfaldne beløb i {currency} efter dage over forfald",
    ),
    "days": ("days", "dage"),
    "no_overdue": ("Nothing is overdue.", "Intet er forfaldent."),
    # Notices on the dashboard
    "notices": ("Notices", "Meddelelser"),
    "mark_read": ("Mark as read", "Markér som læst"),
    "mail_none": ("shown here only (no e-mail set up)", "vises kun her (e-mail er ikke sat op)"),
    "mail_pending": ("e-mail on its way", "e-mail på vej"),
    "mail_sent": ("e-mailed to the admins", "sendt til administratorerne"),
    "mail_failed": ("the e-mail could not be sent", "e-mailen kunne ikke sendes"),
    "state_monitoring": ("Monitoring", "Overvåges"),
    "state_awaiting_approval": ("Awaiting approval", "Afventer godkendelse"),
    "state_scheduled": ("Scheduled for handover", "Planlagt til overdragelse"),
    "state_held": ("Held", "Tilbageholdt"),
    "state_in_collection": ("In collection", "Til inkasso"),
    "state_closed": ("Closed", "Lukket"),
    "state_withdrawn": ("Withdrawn", "Trukket tilbage"),
    # Claims, the journey and approvals
    "state": ("State", "Tilstand"),
    "all_states": ("All states", "Alle tilstande"),
    "claims_search": ("Invoice or customer number", "Faktura- eller kundenummer"),
    "invoice": ("Invoice", "Faktura"),
    "customer": ("Customer", "Kunde"),
    "due_date": ("Due", "Forfald"),
    "remaining": ("Remaining", "Restbeløb"),
    "gross": ("Invoice total", "Fakturabeløb"),
    "handover_on": ("Handover on", "Overdrages den"),
    "credit_note": ("credit note", "kreditnota"),
    "disputed": ("disputed", "bestridt"),
    "next_page": ("Next page", "Næste side"),
    "no_claims": ("No claims match.", "Ingen fordringer passer."),
    "claim": ("Claim", "Fordring"),
    "case": ("Case", "Sag"),
    "actions": ("Actions", "Handlinger"),
    "journey": ("Journey", "Forløb"),
    "journey_of": ("Invoice {invoice}", "Faktura {invoice}"),
    "do_approve": ("Approve handover", "Godkend overdragelse"),
    "do_propose": ("Propose for handover", "Foreslå til overdragelse"),
    "do_hold": ("Hold", "Tilbagehold"),
    "do_release": ("Release", "Frigiv"),
    "do_dispute": ("Mark disputed", "Markér som bestridt"),
    "do_undispute": ("End dispute", "Afslut indsigelse"),
    "do_withdraw": ("Withdraw", "Træk tilbage"),
    "j_overdue": ("Overdue", "Forfalden"),
    "j_due": ("due {day}", "forfaldt {day}"),
    "j_synced": ("Synced from e-conomic", "Synkroniseret fra e-conomic"),
    "j_in_account": ("in the collection account", "i inkassokontoen"),
    "j_not_in_account": ("not yet in the collection account", "endnu ikke i inkassokontoen"),
    "j_announced": ("Handover announced", "Overdragelse varslet"),
    "j_handover_on": (
        "handover on {day} unless held",
        "overdrages {day}, medmindre den tilbageholdes",
    ),
    "j_claim_approved": ("Handover approved", "Overdragelse godkendt"),
    "j_claim_proposed": ("Proposed for handover", "Foreslået til overdragelse"),
    "j_claim_held": ("Held", "Tilbageholdt"),
    "j_claim_released": ("Released", "Frigivet"),
    "j_claim_disputed": ("Marked disputed", "Markeret som bestridt"),
    "j_claim_undisputed": ("Dispute ended", "Indsigelse afsluttet"),
    "j_claim_withdrawn": ("Withdrawn", "Trukket tilbage"),
    "j_handed_over": ("Handed over to collection", "Overdraget til inkasso"),
    "j_case_opened": ("Case opened", "Sag oprettet"),
    "j_step_changed": ("Collection step changed", "Inkassotrin ændret"),
    "j_letter_sent": ("Letter sent", "Brev sendt"),
    "j_payment_collector": (
        "Payment received by the collector",
        "Indbetaling modtaget af inkassobureauet",
    ),
    "j_payment_creditor": ("Payment to the company reported", "Indbetaling til virksomheden meldt"),
    "j_principal": ("Principal", "Hovedstol"),
    "j_interest": ("Interest", "Renter"),
    "j_fees": ("Fees", "Gebyrer"),
    "j_voucher": ("Voucher posted to the journal", "Bilag lagt i kassekladden"),
    "j_voucher_detail": (
        "journal {journal}, voucher {voucher}",
        "kassekladde {journal}, bilag {voucher}",
    ),
    "j_booked": ("Booked in e-conomic", "Bogført i e-conomic"),
    "j_case_closed": ("Case closed", "Sag lukket"),
    "j_reason_paid": ("paid", "betalt"),
    "j_reason_withdrawn": ("withdrawn", "trukket tilbage"),
    "j_reason_written_off": ("written off", "afskrevet"),
    "j_reason_None": ("", ""),
    "j_rejected": ("Refused by the collection platform", "Afvist af inkassoplatformen"),
    "approved_queued": ("approved; the handover is queued", "godkendt; overdragelsen er sat i kø"),
    "select_all": ("Select all", "Vælg alle"),
    "approve_invoice": ("Approve invoice {invoice}", "Godkend faktura {invoice}"),
    "approve_selected": ("Approve the selected", "Godkend de valgte"),
    "no_approvals": ("Nothing awaits approval.", "Intet afventer godkendelse."),
    # A debtor's personal data
    "debtor_data": ("The customer's personal data", "Kundens personoplysninger"),
    "debtor_export": (
        "Export everything held about the customer (JSON)",
        "Eksportér alt, der gemmes om kunden (JSON)",
    ),
    "debtor_erase": ("Erase the customer's personal data", "Slet kundens personoplysninger"),
    "debtor_erase_confirm": (
        "I understand: names, addresses and texts are erased for good; amounts and bookings are kept under a pseudonym.",
        "Jeg forstår: navne, adresser og tekster slettes endeligt; beløb og bogføringer bevares under et pseudonym.",
    ),
    "erase_unconfirmed": (
        "Tick the box to confirm the erasure.",
        "Sæt flueben for at bekræfte sletningen.",
    ),
    "debtor_erased": (
        "The customer's personal data is erased.",
        "Kundens personoplysninger er slettet.",
    ),
    # Write-offs
    "writeoffs": ("Write-offs waiting for approval", "Afskrivninger, der venter på godkendelse"),
    "closed_on": ("Closed", "Lukket"),
    "net": ("Net to loss", "Netto til tab"),
    "vat": ("VAT back", "Moms retur"),
    "approve_writeoff": ("Approve and book", "Godkend og bogfør"),
    "no_writeoffs": (
        "No write-off waits for approval.",
        "Ingen afskrivning venter på godkendelse.",
    ),
    # Resync
    "resync_text": (
        "A resync reads the chosen records from e-conomic again and brings the collection account in line; unchanged records are not sent again.",
        "En ny synkronisering læser de valgte poster fra e-conomic igen og bringer inkassokontoen på linje; uændrede poster sendes ikke igen.",
    ),
    "resync_scope": ("What to resync", "Hvad skal synkroniseres"),
    "scope_all": (
        "Everything (customers and unpaid invoices)",
        "Alt (kunder og ubetalte fakturaer)",
    ),
    "scope_customers": ("Customers changed lately", "Kunder ændret for nylig"),
    "scope_invoices": ("All unpaid invoices", "Alle ubetalte fakturaer"),
    "scope_events": ("Collection events", "Inkassohændelser"),
    "scope_invoice": ("One invoice (number below)", "Én faktura (nummer herunder)"),
    "resync_invoice": ("Invoice number (for one invoice)", "Fakturanummer (for én faktura)"),
    "resync_start": ("Start the resync", "Start synkroniseringen"),
    "resync_needs_caseworker": (
        "Resyncing needs the caseworker role.",
        "Ny synkronisering kræver rollen sagsbehandler.",
    ),
    "resync_recent": ("Recent syncs", "Seneste synkroniseringer"),
    "reload": ("Reload", "Genindlæs"),
    "job_sync_bootstrap": ("Full sync", "Fuld synkronisering"),
    "job_sync_customers": ("Customers", "Kunder"),
    "job_sync_scan": ("Unpaid invoices", "Ubetalte fakturaer"),
    "job_sync_events": ("Collection events", "Inkassohændelser"),
    "job_sync_invoice": ("One invoice", "Én faktura"),
    # A company's settings
    "settings_read_only": (
        "Only admins change settings; you see them read-only.",
        "Kun administratorer ændrer indstillinger; du ser dem skrivebeskyttet.",
    ),
    "policy": ("Handover policy", "Regler for overdragelse"),
    "policy_text": (
        "Which overdue invoices are handed over to collection, and how.",
        "Hvilke forfaldne fakturaer der overdrages til inkasso, og hvordan.",
    ),
    "policy_mode": ("Mode", "Tilstand"),
    "mode_manual": (
        "Manual: eligible claims wait for an admin's approval",
        "Manuel: egnede fordringer venter på en administrators godkendelse",
    ),
    "mode_automatic": (
        "Automatic: eligible claims are handed over",
        "Automatisk: egnede fordringer overdrages",
    ),
    "min_days_overdue": ("Days overdue at least", "Mindst antal dage over forfald"),
    "min_amount": ("Remaining amount at least ({currency})", "Restbeløb mindst ({currency})"),
    "exclude_groups": (
        "Customer groups never handed over (numbers, comma-separated)",
        "Kundegrupper, der aldrig overdrages (numre, kommasepareret)",
    ),
    "start_step": ("First collection step", "Første inkassotrin"),
    "step_reminder_1": ("Reminder", "Rykker"),
    "step_collection_notice": ("Collection notice", "Inkassovarsel"),
    "notice_days": (
        "Days of notice before a handover (0: at once)",
        "Dages varsel før en overdragelse (0: straks)",
    ),
    "channels": ("Channel priority", "Prioritet af kanaler"),
    "channels_text": (
        "The collection platform tries the channels in this order.",
        "Inkassoplatformen prøver kanalerne i denne rækkefølge.",
    ),
    "channel_choice": ("Choice {n}", "Valg {n}"),
    "channel_nemhandel": ("NemHandel (e-invoice)", "NemHandel (e-faktura)"),
    "channel_eboks": ("e-Boks", "e-Boks"),
    "channel_ehf": ("EHF", "EHF"),
    "channel_email": ("E-mail", "E-mail"),
    "channel_sms": ("SMS", "SMS"),
    "channel_letter": ("Letter", "Brev"),
    "booking": ("Booking in e-conomic", "Bogføring i e-conomic"),
    "booking_text": (
        "Where payments and write-offs are booked.",
        "Hvor indbetalinger og afskrivninger bogføres.",
    ),
    "journal": ("Journal (daybook) number", "Kassekladde (nummer)"),
    "account_interest_income": ("Account for interest income", "Konto for renteindtægter"),
    "account_fee_income": ("Account for fee income", "Konto for gebyrindtægter"),
    "account_loss": ("Account for losses on debtors", "Konto for tab på debitorer"),
    "account_output_vat": ("Account for output VAT", "Konto for udgående moms"),
    "business_groups": (
        "Customer groups that are businesses (numbers, comma-separated)",
        "Kundegrupper, der er virksomheder (numre, kommasepareret)",
    ),
    "flag_auto_book": (
        "Book the app's journal automatically",
        "Bogfør appens kassekladde automatisk",
    ),
    "flag_send_documents": (
        "Send invoice PDFs to the collection account",
        "Send faktura-PDF'er til inkassokontoen",
    ),
    "flag_barred_on_close": (
        "Mark a written-off customer barred in e-conomic",
        "Spær en afskrevet kunde i e-conomic",
    ),
    "retention_days": (
        "Days to keep personal data after uninstall (at most {limit})",
        "Dage personoplysninger gemmes efter afinstallation (højst {limit})",
    ),
    "connection": ("Connection", "Forbindelse"),
    "onboarding_again": (
        "Change the onboarding choices (collection account, webhooks)",
        "Ændr valgene fra opsætningen (inkassokonto, webhooks)",
    ),
    "do_pause": ("Pause syncing", "Sæt synkronisering på pause"),
    "do_resume": ("Resume syncing", "Genoptag synkronisering"),
    "do_disconnect": ("Disconnect", "Afbryd forbindelsen"),
    # Users, tokens and audit log
    "members_title": ("Users and roles", "Brugere og roller"),
    "members": ("Members", "Medlemmer"),
    "role": ("Role", "Rolle"),
    "member_actions": ("Actions", "Handlinger"),
    "you": ("you", "dig"),
    "role_of": ("Role of {email}", "Rolle for {email}"),
    "change_role": ("Change role", "Skift rolle"),
    "make_reset_link": ("Password reset link", "Link til ny adgangskode"),
    "make_reset_link_for": (
        "Make a password reset link for {email}",
        "Lav et link til ny adgangskode for {email}",
    ),
    "remove_member": ("Remove", "Fjern"),
    "remove_member_named": ("Remove {email} from the company", "Fjern {email} fra virksomheden"),
    "open_invitations": ("Open invitations", "Åbne invitationer"),
    "no_invitations": ("No open invitations.", "Ingen åbne invitationer."),
    "expires": ("Expires", "Udløber"),
    "cancel_invitation": ("Cancel", "Annuller"),
    "cancel_invitation_for": (
        "Cancel the invitation of {email}",
        "Annuller invitationen af {email}",
    ),
    "invite_someone": ("Invite someone", "Inviter en person"),
    "invite_someone_text": (
        "They get a link that works once, for 7 days, to join with the role you choose.",
        "Personen får et link, der virker én gang i 7 dage, til at blive medlem med den rolle, du vælger.",
    ),
    "roles_explained": (
        "Guest: sees cases and claims. Caseworker: also proposes handovers, marks disputes and resyncs. Admin: also settings, users, approvals, connecting and disconnecting.",
        "Gæst: ser sager og fordringer. Sagsbehandler: foreslår også overdragelser, markerer tvister og synkroniserer igen. Administrator: også indstillinger, brugere, godkendelser, tilslutning og afbrydelse.",
    ),
    "invite": ("Invite", "Inviter"),
    "invited": ("The invitation is made.", "Invitationen er lavet."),
    "invite_link_title": ("Invitation link for {email}", "Invitationslink til {email}"),
    "reset_link_title": ("Password reset link for {email}", "Link til ny adgangskode for {email}"),
    "link_once": (
        "Copy the link now: it is shown only this once. Whoever holds it can use it.",
        "Kopier linket nu: det vises kun denne ene gang. Den, der har det, kan bruge det.",
    ),
    "invite_mailed": ("The link was also sent to {email}.", "Linket er også sendt til {email}."),
    "invite_not_mailed": (
        "E-mail is not set up (or failed): send the link to {email} yourself.",
        "E-mail er ikke sat op (eller fejlede): send selv linket til {email}.",
    ),
    "invite_mail": (
        "{inviter} invites you to {company} (agreement {agreement}) in collectbridge as {role}.\n\nAccept within 7 days by this link, which works once:\n{link}",
        "{inviter} inviterer dig til {company} (aftale {agreement}) i collectbridge som {role}.\n\nAccepter inden for 7 dage via dette link, som virker én gang:\n{link}",
    ),
    "invite_email_invalid": ("Enter a valid e-mail address.", "Skriv en gyldig e-mailadresse."),
    "role_invalid": ("Choose one of the roles.", "Vælg en af rollerne."),
    "already_member": (
        "That person is already a member of the company; change their role instead.",
        "Personen er allerede medlem af virksomheden; skift i stedet vedkommendes rolle.",
    ),
    "last_admin_demote": (
        "This is the company's last admin: make someone else admin first.",
        "Dette er virksomhedens sidste administrator: gør først en anden til administrator.",
    ),
    "last_admin_remove": (
        "The company's last admin cannot be removed: make someone else admin first.",
        "Virksomhedens sidste administrator kan ikke fjernes: gør først en anden til administrator.",
    ),
    "reset_elsewhere": (
        "This person is also a member of companies you are not admin of, so only they can reset their password (“Forgot your password?” on the sign-in page).",
        "Personen er også medlem af virksomheder, du ikke er administrator for, så kun vedkommende selv kan nulstille sin adgangskode (“Glemt din adgangskode?” på login-siden).",
    ),
    "reset_link_made": (
        "A reset link is made; it works once, for one hour.",
        "Et nulstillingslink er lavet; det virker én gang i en time.",
    ),
    "role_changed": ("The role is changed.", "Rollen er skiftet."),
    "member_removed": (
        "The member is removed and has no access to the company any more.",
        "Medlemmet er fjernet og har ikke længere adgang til virksomheden.",
    ),
    "invitation_cancelled": ("The invitation is cancelled.", "Invitationen er annulleret."),
    "tokens_title": ("API tokens", "API-nøgler"),
    "tokens_text": (
        "A personal API token lets a script call the JSON API as you, with your roles. Keep it secret; revoke it when it is no longer needed.",
        "En personlig API-nøgle lader et script kalde JSON-API'et som dig, med dine roller. Hold den hemmelig; tilbagekald den, når den ikke længere bruges.",
    ),
    "tokens_yours": ("Your tokens", "Dine nøgler"),
    "tokens_none": ("You have no API tokens.", "Du har ingen API-nøgler."),
    "token_created": ("Your new token", "Din nye nøgle"),
    "token_once": (
        "Copy it now: it is shown only this once and cannot be shown again.",
        "Kopier den nu: den vises kun denne ene gang og kan ikke vises igen.",
    ),
    "token_try": ("Try it", "Prøv den"),
    "token_created_at": ("Created", "Oprettet"),
    "token_last_used": ("Last used", "Senest brugt"),
    "token_actions": ("Actions", "Handlinger"),
    "token_revoke": ("Revoke", "Tilbagekald"),
    "token_revoke_named": ("Revoke the token {name}", "Tilbagekald nøglen {name}"),
    "token_revoked": ("The token is revoked.", "Nøglen er tilbagekaldt."),
    "token_new": ("New token", "Ny nøgle"),
    "token_name": ("Name (what it is for)", "Navn (hvad den bruges til)"),
    "token_create": ("Create the token", "Opret nøglen"),
    "token_name_invalid": (
        "Give the token a name of 1 to {max} characters.",
        "Giv nøglen et navn på 1 til {max} tegn.",
    ),
    "audit_title": ("Audit log", "Revisionslog"),
    "audit_caption": ("Newest first", "Nyeste først"),
    "audit_action": ("Action", "Handling"),
    "audit_all_actions": ("All actions", "Alle handlinger"),
    "audit_search": ("Search who, what and details", "Søg efter hvem, hvad og detaljer"),
    "audit_when": ("When", "Hvornår"),
    "audit_who": ("Who", "Hvem"),
    "audit_detail": ("Details", "Detaljer"),
    "audit_none": ("No entries match.", "Ingen poster passer."),
    "audit_newest": ("Newest", "Nyeste"),
    "audit_older": ("Older", "Ældre"),
    # Onboarding
    "onboarding_title": ("Onboarding", "Opsætning"),
    "onboarding_installed": (
        "Installed: {company}, agreement {agreement}",
        "Installeret: {company}, aftale {agreement}",
    ),
    "onboarding_signed_in_as": (
        "You are signed in as {email} ({role}).",
        "Du er logget ind som {email} ({role}).",
    ),
    "onboarding_done": ("Onboarding is done.", "Opsætningen er færdig."),
    "onboarding_done_saved": (
        "Onboarding is done – the choices below are saved.",
        "Opsætningen er færdig – valgene nedenfor er gemt.",
    ),
    "onboarding_first_sync": ("The first sync runs as", "Den første synkronisering kører som"),
    "onboarding_job": ("job {id}", "job {id}"),
    "onboarding_job_queued": ("waiting", "venter"),
    "onboarding_job_running": ("running", "kører"),
    "onboarding_job_succeeded": ("done", "færdig"),
    "onboarding_job_failed": ("failed, to be retried", "fejlede, prøves igen"),
    "onboarding_job_parked": ("paused", "sat på pause"),
    "onboarding_job_dead": ("stopped", "stoppet"),
    "onboarding_next": (
        "Onboarding comes next: the collection account, the app's journal, the accounts for "
        "interest, fees, losses and VAT, the handover policy, and the webhooks on both sides. "
        "The suggestions below are taken from your chart of accounts; you can change them, and "
        "change them again later.",
        "Nu mangler opsætningen: inkassokontoen, appens kassekladde, konti til renter, gebyrer, "
        "tab og moms, reglerne for overdragelse til inkasso og webhooks i begge systemer. "
        "Forslagene nedenfor er hentet fra jeres kontoplan; I kan ændre dem nu og igen senere.",
    ),
    "onboarding_account_exists": (
        "The company already has a collection account. Link it instead: you sign in on the "
        "collection platform and allow the app to use the account, then come back here.",
        "Virksomheden har allerede en inkassokonto. Tilknyt den i stedet: du logger ind på "
        "inkassoplatformen, giver appen adgang til kontoen og vender så tilbage hertil.",
    ),
    "onboarding_link_existing": ("Link your existing account", "Tilknyt den eksisterende konto"),
    "onboarding_legacy_heading": (
        "Webhook addresses to paste into e-conomic",
        "Webhook-adresser, der skal indsættes i e-conomic",
    ),
    "onboarding_legacy_text": (
        "e-conomic did not let the app register all of its webhooks itself. In e-conomic, under "
        "Settings → Webhooks, add these addresses, one per event (they contain a secret: keep "
        "them to yourself).",
        "e-conomic lod ikke appen oprette alle sine webhooks selv. Tilføj disse adresser i "
        "e-conomic under Indstillinger → Webhooks, én pr. hændelse (de indeholder en hemmelig "
        "nøgle: del dem ikke med andre).",
    ),
    "onboarding_collection_heading": ("Collection account", "Inkassokonto"),
    "onboarding_collection_linked": ("Linked: account {id}.", "Tilknyttet: konto {id}."),
    "onboarding_collection_create": (
        "Create a collection account for the company",
        "Opret en inkassokonto til virksomheden",
    ),
    "onboarding_collection_link": (
        "Link an account the company already has",
        "Tilknyt en inkassokonto, virksomheden allerede har",
    ),
    "onboarding_journal_heading": ("Journal", "Kassekladde"),
    "onboarding_journal_label": (
        "The app's journal (its entries are drafts until you book them)",
        "Appens kassekladde (posteringerne er kladder, indtil du bogfører dem)",
    ),
    "onboarding_journal_own": (
        "The app's own (a journal named collectbridge or Inkasso)",
        "Appens egen (en kassekladde med navnet collectbridge eller Inkasso)",
    ),
    "onboarding_accounts_heading": ("Accounts", "Konti"),
    "onboarding_ledger_error": (
        "e-conomic's journals and accounts could not be read just now: enter numbers, or reload "
        "later.",
        "e-conomics kassekladder og konti kunne ikke læses lige nu: indtast numrene, eller "
        "genindlæs siden senere.",
    ),
    "onboarding_account_for": ("Account for {what}", "Konto til {what}"),
    "onboarding_what_interest_income": ("interest income", "renteindtægter"),
    "onboarding_what_fee_income": ("fee income", "gebyrindtægter"),
    "onboarding_what_loss": ("bad-debt loss", "tab på debitorer"),
    "onboarding_what_output_vat": ("output VAT", "salgsmoms"),
    "onboarding_account_none": ("None recognised: pick one", "Ingen genkendt: vælg en konto"),
    "onboarding_policy_heading": ("Handover policy", "Overdragelse til inkasso"),
    "onboarding_policy_mode": ("Handing over", "Overdragelse"),
    "onboarding_policy_manual": (
        "manual: an admin approves each claim",
        "manuel: en administrator godkender hver fordring",
    ),
    "onboarding_policy_automatic": (
        "automatic: within the thresholds below",
        "automatisk: inden for grænserne nedenfor",
    ),
    "onboarding_policy_min_days_overdue": ("Days overdue, at least", "Dage over forfald, mindst"),
    "onboarding_policy_min_amount": (
        "Remaining amount, at least, in minor units (øre: 10000 = 100.00)",
        "Restbeløb, mindst, i øre (10000 = 100,00 kr.)",
    ),
    "onboarding_policy_exclude_groups": (
        "Customer groups never handed over (numbers, comma-separated)",
        "Kundegrupper, der aldrig sendes til inkasso (numre adskilt af komma)",
    ),
    "onboarding_policy_start_step": ("First step", "Første trin"),
    "onboarding_step_reminder_1": ("The first reminder", "Første rykker"),
    "onboarding_step_collection_notice": ("The debt collection notice", "Inkassovarsel"),
    "onboarding_policy_notice_days": (
        "Days of notice before an automatic handover",
        "Dages varsel før en automatisk overdragelse til inkasso",
    ),
    "onboarding_customers_heading": ("Customers and letters", "Kunder og breve"),
    "onboarding_business_groups": (
        "Customer groups of businesses (numbers, comma-separated)",
        "Kundegrupper med erhvervskunder (numre adskilt af komma)",
    ),
    "onboarding_channels": (
        "Channels, in order of preference (nemhandel, eboks, ehf, email, sms, letter)",
        "Kanaler i prioriteret rækkefølge (nemhandel, eboks, ehf, email, sms, letter)",
    ),
    "onboarding_save": ("Save the choices", "Gem valgene"),
    "onboarding_read_only": (
        "Only an admin of the company can change these.",
        "Kun en administrator i virksomheden kan ændre disse valg.",
    ),
    "onboarding_csrf_failed": (
        "This form is out of date or was not sent from our page: reload it and try again.",
        "Formularen er forældet eller blev ikke sendt fra vores side: genindlæs den og prøv igen.",
    ),
    "onboarding_admin_only": (
        "Only an admin of the company can change onboarding.",
        "Kun en administrator i virksomheden kan ændre opsætningen.",
    ),
    "onboarding_choices_lost": (
        "The saved choices could not be read; finish onboarding.",
        "De gemte valg kunne ikke læses; afslut opsætningen.",
    ),
    "onboarding_running": (
        "Onboarding of this company is already under way; look again in a minute.",
        "Opsætningen af virksomheden er allerede i gang; kig igen om et minut.",
    ),
    "onboarding_economic_access_lost": (
        "e-conomic no longer accepts the company's grant: install the app again.",
        "e-conomic godtager ikke længere virksomhedens adgang: installér appen igen.",
    ),
    "onboarding_invalid_choice": (
        "A choice was not accepted: {detail}",
        "Et valg blev ikke godtaget: {detail}",
    ),
    "onboarding_invalid_state": (
        "The installation is revoked or deleted and cannot be onboarded: install the app again "
        "from e-conomic.",
        "Installationen er tilbagekaldt eller slettet og kan ikke sættes op: installér appen "
        "igen fra e-conomic.",
    ),
    "onboarding_platform_unavailable": (
        "{detail}",
        "En platform kunne ikke nås; intet er tabt, prøv igen. ({detail})",
    ),
    "onboarding_platform_refused": (
        "A platform refused the request: {detail}",
        "En platform afviste forespørgslen: {detail}",
    ),
    "onboarding_platform_garbled": (
        "A platform's answer was not understood; try again later.",
        "Et svar fra en platform kunne ikke forstås; prøv igen senere.",
    ),
    "onboarding_collection_access_lost": (
        "The collection platform no longer accepts the app's access: link the account again. "
        "({detail})",
        "Inkassoplatformen godtager ikke længere appens adgang: tilknyt kontoen igen. ({detail})",
    ),
    "onboarding_not_configured": (
        "This server is not set up for that yet: {detail}",
        "Serveren er ikke sat op til det endnu: {detail}",
    ),
    "onboarding_note_journal_missing": (
        "No journal of the app's was found, and e-conomic does not let apps create one. Create a "
        'journal named "{name}" in e-conomic (Settings → Journals) and run onboarding again, or '
        "pick a journal.",
        "Appens kassekladde blev ikke fundet, og e-conomic lader ikke apps oprette en. Opret en "
        'kassekladde med navnet "{name}" i e-conomic (Indstillinger → Kassekladder), og kør '
        "opsætningen igen, eller vælg en kassekladde.",
    ),
    "onboarding_note_account_missing": (
        "No {what} account was recognised in the chart of accounts: an admin picks one.",
        "Ingen konto til {what} blev genkendt i kontoplanen: en administrator vælger en.",
    ),
    "onboarding_note_webhook_refused": (
        "The collection platform refused our webhook endpoint ({detail}); its events still "
        "arrive through the events feed.",
        "Inkassoplatformen afviste vores webhook-adresse ({detail}); dens hændelser kommer "
        "stadig frem via hændelsesfeedet.",
    ),
    "link_refused_title": ("Not linked", "Ikke tilknyttet"),
    "link_refused_heading": (
        "The collection account was not linked",
        "Inkassokontoen blev ikke tilknyttet",
    ),
    "link_refused_state_missing": (
        "The platform sent no state back, so nothing was linked. Start linking again from the "
        "onboarding page.",
        "Platformen sendte ingen tilstand tilbage, så intet blev tilknyttet. Start "
        "tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_state_unknown": (
        "This link's state is not one we issued, so nothing was linked. Start linking again "
        "from the onboarding page.",
        "Linkets tilstand er ikke udstedt af os, så intet blev tilknyttet. Start "
        "tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_state_used": (
        "This link has already been completed once. Start linking again from the onboarding page.",
        "Linket er allerede blevet brugt én gang. Start tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_state_expired": (
        "This link took longer than 30 minutes and expired. Start linking again from the "
        "onboarding page.",
        "Linket tog mere end 30 minutter og er udløbet. Start tilknytningen igen fra "
        "opsætningssiden.",
    ),
    "link_refused_access_denied": (
        "You did not allow the app to use the collection account, so nothing was linked. Start "
        "linking again from the onboarding page.",
        "Du gav ikke appen adgang til inkassokontoen, så intet blev tilknyttet. Start "
        "tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_authorize_failed": (
        "The platform could not authorize the app. Start linking again from the onboarding page.",
        "Platformen kunne ikke godkende appen. Start tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_code_missing": (
        "The platform sent no authorization code back. Start linking again from the onboarding "
        "page.",
        "Platformen sendte ingen godkendelseskode tilbage. Start tilknytningen igen fra "
        "opsætningssiden.",
    ),
    "link_refused_code_refused": (
        "The platform did not accept the authorization code. Start linking again from the "
        "onboarding page.",
        "Platformen godtog ikke godkendelseskoden. Start tilknytningen igen fra opsætningssiden.",
    ),
    "link_refused_installation_gone": (
        "The company's installation is revoked; install the app from e-conomic again first.",
        "Virksomhedens installation er tilbagekaldt; installér først appen fra e-conomic igen.",
    ),
    "link_refused_platform_unavailable": (
        "The collection platform could not be reached, so nothing was linked. Start linking "
        "again from the onboarding page.",
        "Inkassoplatformen kunne ikke nås, så intet blev tilknyttet. Start tilknytningen igen "
        "fra opsætningssiden.",
    ),
    "link_refused_not_configured": (
        "The collection platform is not configured on this server (COLLECTBRIDGE_COLLECTION_*).",
        "Inkassoplatformen er ikke sat op på denne server (COLLECTBRIDGE_COLLECTION_*).",
    ),
    "link_start_page": ("Start page", "Forside"),
    "link_done_title": ("Collection account linked", "Inkassokonto tilknyttet"),
    "link_done_heading": (
        "Collection account linked: {company}",
        "Inkassokonto tilknyttet: {company}",
    ),
    "link_done_text": (
        "The company's collection account {id} is linked to the app.",
        "Virksomhedens inkassokonto {id} er tilknyttet appen.",
    ),
    "link_onboarding_unfinished": (
        "Onboarding is not finished yet: {message}",
        "Opsætningen er ikke færdig endnu: {message}",
    ),
    "link_onboarding_page": ("Onboarding page", "Opsætningssiden"),
    # Review mends
    "invalid_number": (
        "Enter numbers only (amounts like 1234.50 or 1.234,50).",
        "Skriv kun tal (beløb som 1.234,50 eller 1234.50).",
    ),
    "disconnect_confirm": (
        "I understand: the app loses access to e-conomic and the collection account; what is synced is kept.",
        "Jeg forstår: appen mister adgangen til e-conomic og inkassokontoen; det synkroniserede bevares.",
    ),
    "disconnect_unconfirmed": (
        "Tick the box to confirm the disconnection.",
        "Sæt flueben for at bekræfte afbrydelsen.",
    ),
    "two_factor_unavailable": (
        "Two-factor sign-in needs COLLECTBRIDGE_SECRET_KEY, which this server lacks; ask your operator.",
        "Tofaktor-login kræver COLLECTBRIDGE_SECRET_KEY, som serveren mangler; spørg din driftsansvarlige.",
    ),
    "withdraw_reason": ("Reason", "Årsag"),
    "reason_sent_in_error": ("Sent in error", "Sendt ved en fejl"),
    "reason_disputed": ("Disputed by the customer", "Bestridt af kunden"),
    "reason_paid_to_creditor": ("Paid to the company", "Betalt til virksomheden"),
    "reason_credited": ("Credited", "Krediteret"),
    "job_state_queued": ("queued", "i kø"),
    "job_state_running": ("running", "kører"),
    "job_state_succeeded": ("done", "færdig"),
    "job_state_failed": ("failed, will retry", "fejlede, prøves igen"),
    "job_state_parked": ("waiting for access", "venter på adgang"),
    "job_state_dead": ("stopped: needs a person", "stoppet: kræver en person"),
    # Bookkeeping: reconciliation and the writes to e-conomic
    "nav_bookkeeping": ("Bookkeeping", "Bogføring"),
    "month": ("Month", "Måned"),
    "show": ("Show", "Vis"),
    "download_csv": ("Download CSV", "Hent CSV"),
    "reconciliation_of": ("Reconciliation for {month}", "Afstemning for {month}"),
    "currency": ("Currency", "Valuta"),
    "received": ("Received by the collector", "Modtaget af inkassobureauet"),
    "posted": ("Vouchers posted", "Bilag lagt i kassekladden"),
    "booked": ("Booked", "Bogført"),
    "not_posted": ("Not yet posted", "Endnu ikke lagt i kassekladden"),
    "written_off": ("Written off", "Afskrevet"),
    "no_payments": (
        "No collector payments this month.",
        "Ingen indbetalinger via inkasso denne måned.",
    ),
    "differences": ("Differences", "Differencer"),
    "without_voucher": (
        "Payment {payment} of {day} has no voucher",
        "Indbetaling {payment} fra {day} har intet bilag",
    ),
    "amount_mismatch": (
        "The voucher of payment {payment} differs by",
        "Bilaget for indbetaling {payment} afviger med",
    ),
    "balanced": (
        "Every collector payment has its voucher, to the øre.",
        "Hver indbetaling via inkasso har sit bilag, på øret.",
    ),
    "open_writes": (
        "Writes to e-conomic not yet done",
        "Skrivninger til e-conomic, der ikke er gennemført",
    ),
    "write_kind": ("Write", "Skrivning"),
    "attempts": ("Attempts", "Forsøg"),
    "last_error": ("Last error", "Seneste fejl"),
    "retry": ("Retry", "Prøv igen"),
    "no_open_writes": (
        "Every write to e-conomic is done.",
        "Alle skrivninger til e-conomic er gennemført.",
    ),
    "more_waiting": (
        "More claims await approval than the {n} shown: approve these, and the next ones show.",
        "Flere fordringer venter end de {n} viste: godkend disse, så vises de næste.",
    ),
    # Review mends: links that never sign anybody in
    "invite_sign_in_first": (
        "{email} already has an account here: sign in as {email}, then open this link again to accept. No password yet? Choose one with “Forgot your password?”.",
        "{email} har allerede en konto her: log ind som {email}, og åbn så linket igen for at acceptere. Ingen adgangskode endnu? Vælg en med “Glemt din adgangskode?”.",
    ),
    "invite_accept_as": ("Accept as {email}.", "Accepter som {email}."),
    "invite_already_member": (
        "You are already a member of this company; an admin changes roles on the users page.",
        "Du er allerede medlem af virksomheden; en administrator ændrer roller på siden Brugere.",
    ),
    "done_password_reset": (
        "Your password is changed. Sign in with it.",
        "Din adgangskode er skiftet. Log ind med den.",
    ),
    "done_joined": (
        "Your account is ready. Sign in to see the company.",
        "Din konto er klar. Log ind for at se virksomheden.",
    ),
}


def translator(language: Language) -> Translate:
    index = LANGUAGES.index(language)

    def t(key: str, **fields: object) -> str:
        text = TEXTS[key][index]
        return text.format(**fields) if fields else text

    return t


def preferred(accept_language: str) -> Language | None:
    """The first of our languages an ``Accept-Language`` header names (by its q order)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip().lower().split("-")[0]))
    for quality, _, tag in sorted(ranked):
        if quality < 0 and tag in LANGUAGES:
            return tag
    return None


def language_of(request: web.Request, chosen: str | None = None) -> Language:
    for candidate in (chosen, request.cookies.get(LANGUAGE_COOKIE)):
        if candidate in LANGUAGES:
            return candidate
    return preferred(request.headers.get("Accept-Language", "")) or "en"
