"""Every household of the synthetic municipality prints: no character outside IPAmj明朝."""

from __future__ import annotations

from datetime import date

import pytest

import printing
from app.domain import certificates as C
from printing.fonts import Fonts

synthetic = pytest.importorskip("app.synthetic.generator")

TODAY = date(2026, 11, 26)


def _document(h):
    residents = [m for m in h.members if not m.is_removed]
    requester = (residents or list(h.members))[0]
    request = C.CertificateRequest(
        C.Requester(
            C.RequesterKind.SELF,
            C.PersonRef(requester.name, h.address, requester.birth_date, requester.person_id),
        ),
        (C.IdentityDocument.MY_NUMBER_CARD,),
        person_ids=None if residents else (requester.person_id,),
        items=frozenset(C.Item),
        purpose=C.Purpose(reason="字形の確認の試験のため"),
    )
    decision = C.decide(request, h, TODAY)
    assert decision.allowed, (h.household_id, decision.reasons)
    return C.build_document(
        request, decision, h, issuance_no="T01-20261126-1", terminal_no="T01", issued_on=TODAY
    )


def test_showcases_render(fonts: Fonts) -> None:
    households = list(synthetic.generate(60, 3))
    # The fixed showcases come first: 9 persons, IVS names, 支援措置, a lone 除票, foreigners.
    for h in households[:5]:
        pdf = printing.render_certificate(_document(h), sample=True)
        assert pdf.startswith(b"%PDF")
    assert any(
        any(0xE0100 <= ord(c) <= 0xE01EF for m in h.members for c in m.name) for h in households[:5]
    )


def test_every_printed_string_has_glyphs(fonts: Fonts) -> None:
    checked = 0
    for h in synthetic.generate(1500, 11):
        doc = _document(h)
        for sheet in doc.sheets:
            cells = list(sheet.header)
            cells += [c for block in sheet.blocks for row in block.rows for c in row]
            for cell in cells:
                fonts.check(cell.label)
                fonts.check(cell.value, cell.person_id)
                checked += 1
    assert checked > 10_000
