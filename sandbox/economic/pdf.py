"""A hand-written, valid PDF 1.4 of a booked invoice (Helvetica, WinAnsi text, correct xref).

Enough for a PDF reader (and ``pypdf``) to open it and find the invoice number, the lines and
the totals; amounts are written the Danish way with the currency's decimals (``1.019,99`` DKK,
``1.500`` ISK), quantities with two.
"""

from __future__ import annotations

from sandbox.economic.money import exponent
from sandbox.economic.state import Company, Invoice

LINES_PER_PAGE = 40


def danish_amount(minor: int, places: int = 2) -> str:
    """Minor units (or hundredths) with ``places`` decimals: ``101999`` → ``1.019,99``."""
    sign, minor = ("-" if minor < 0 else ""), abs(minor)
    whole, fraction = divmod(minor, 10**places)
    text = f"{whole:,}".replace(",", ".")
    return f"{sign}{text},{fraction:0{places}d}" if places else f"{sign}{text}"


def _escape(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def invoice_text(company: Company, inv: Invoice) -> list[tuple[int, str]]:
    """(font size, text) rows, top to bottom."""
    title = "Kreditnota" if inv.gross < 0 else "Faktura"
    places = exponent(inv.currency)
    r = inv.recipient
    rows: list[tuple[int, str]] = [
        (16, f"{title} {inv.number}"),
        (10, f"{company.name}, {company.address}, {company.zip} {company.city}, CVR {company.cvr}"),
        (10, ""),
        (10, r.name),
        (10, " ".join(filter(None, (r.address, r.zip, r.city, r.country)))),
    ]
    if r.ean:
        rows.append((10, f"EAN {r.ean}"))
    if r.cvr:
        rows.append((10, f"CVR {r.cvr}"))
    rows += [
        (10, f"Fakturadato {inv.date.isoformat()}   Forfaldsdato {inv.due_date.isoformat()}"),
        (10, f"Kundenummer {inv.customer}   Valuta {inv.currency}"),
        (10, inv.heading),
        (10, ""),
        (10, "Nr.  Beskrivelse  Antal  Enhed  Enhedspris  Beløb"),
    ]
    rows += [
        (
            10,
            f"{x.number}  {x.description}  {danish_amount(x.quantity)}  {x.unit}  "
            f"{danish_amount(x.unit_price, places)}  {danish_amount(x.total, places)}",
        )
        for x in inv.lines
    ]
    rows += [
        (10, ""),
        (10, f"Netto {danish_amount(inv.net, places)}"),
        (10, f"Moms {danish_amount(inv.vat, places)}"),
        (12, f"I alt {inv.currency} {danish_amount(inv.gross, places)}"),
    ]
    return rows


def _page_stream(rows: list[tuple[int, str]]) -> bytes:
    out, y = [], 800
    for size, text in rows:
        out.append(b"BT /F1 %d Tf 50 %d Td (" % (size, y) + _escape(text) + b") Tj ET")
        y -= size + 8
    return b"\n".join(out)


def render_pdf(company: Company, inv: Invoice) -> bytes:
    rows = invoice_text(company, inv)
    pages = [rows[i : i + LINES_PER_PAGE] for i in range(0, len(rows), LINES_PER_PAGE)]
    first_page = 4
    kids = " ".join(f"{first_page + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids.encode(), len(pages)),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
    ]
    for i, page in enumerate(pages):
        stream = _page_stream(page)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (first_page + 2 * i + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
