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
    "state_monitoring": ("Monitoring", "Overvåges"),
    "state_awaiting_approval": ("Awaiting approval", "Afventer godkendelse"),
    "state_scheduled": ("Scheduled for handover", "Planlagt til overdragelse"),
    "state_held": ("Held", "Tilbageholdt"),
    "state_in_collection": ("In collection", "Til inkasso"),
    "state_closed": ("Closed", "Lukket"),
    "state_withdrawn": ("Withdrawn", "Trukket tilbage"),
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
