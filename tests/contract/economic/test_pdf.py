"""The invoice PDF is a real document: pypdf opens it and finds number, lines and totals."""

from __future__ import annotations

import io

from pypdf import PdfReader

from tests.fixtures.economic import EconomicSandbox


async def test_pdf_by_accept_header_and_download_link(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        async with http.post(
            "/_sandbox/invoices",
            json={
                "customer_number": 2,
                "currency": "DKK",
                "lines": [
                    {"description": "Kontorstol, ergonomisk", "quantity": 2, "unit_price": 2895},
                    {"description": "Fragt", "quantity": 1, "unit_price": 25.99},
                ],
            },
        ) as r:
            doc = await r.json()
        number = doc["bookedInvoiceNumber"]
        async with http.get(
            f"/invoices/booked/{number}", headers={"Accept": "application/pdf"}
        ) as r:
            assert r.status == 200 and r.content_type == "application/pdf"
            pdf = await r.read()
        async with http.get(doc["pdf"]["download"]) as r:
            assert await r.read() == pdf
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    assert f"Faktura {number}" in text
    assert "Kontorstol, ergonomisk" in text and "Fragt" in text
    assert "5.790,00" in text and "25,99" in text  # line totals
    assert "Netto 5.815,99" in text and "Moms 1.454,00" in text and "I alt DKK 7.269,99" in text
    assert doc["grossAmount"] == 7269.99


async def test_credit_note_pdf_and_long_invoices(economic_sandbox: EconomicSandbox) -> None:
    sb = economic_sandbox
    async with sb.session(sb.grant()) as http:
        lines = [
            {"description": f"Linje {n} æøå", "quantity": 1, "unit_price": 1} for n in range(60)
        ]
        async with http.post(
            "/_sandbox/invoices", json={"customer_number": 1, "lines": lines}
        ) as r:
            number = (await r.json())["bookedInvoiceNumber"]
        async with http.get(f"/invoices/booked/{number}/pdf") as r:
            reader = PdfReader(io.BytesIO(await r.read()))
        assert len(reader.pages) == 2
        assert "Linje 59 æøå" in reader.pages[1].extract_text()
        async with http.post(f"/_sandbox/invoices/{number}/credit-note", json={"amount": 10}) as r:
            note = (await r.json())["bookedInvoiceNumber"]
        async with http.get(f"/invoices/booked/{note}/pdf") as r:
            text = PdfReader(io.BytesIO(await r.read())).pages[0].extract_text()
        assert f"Kreditnota {note}" in text and "-10,00" in text
