"""The address sheet (送付書) of a mailed certificate: the first page of the print, folded in
three (三つ折り) into a 長形3号 window envelope, the address showing through the window.

The window's place is the common one of 長3 窓付き封筒 (横型の窓 90 × 45 mm, 23 mm from the
left edge and 14 mm from the top of the envelope); the address block sits inside it with room
for the folded sheet (210 × 99 mm) to move in the envelope (235 × 120 mm). A city with other
envelopes changes the constants below (docs/certificates.md "郵送").
"""

from __future__ import annotations

from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from app.domain.certificates import CertificateDocument, MailAddress

# The address block, from the sheet's top-left corner (inside the window with ~4 mm to spare).
ADDRESS_LEFT = 27 * mm
ADDRESS_TOP = 19 * mm
ADDRESS_WIDTH = 82 * mm
ADDRESS_HEIGHT = 36 * mm
FOLDS = (99 * mm, 198 * mm)  # 三つ折り, from the top


def draw_address_sheet(
    p: object,
    c: Canvas,
    doc: CertificateDocument,
    mail_to: MailAddress,
    page_w: float,
    page_h: float,
) -> None:
    """One page: the address in the window, the fold marks, and what the envelope holds.
    `p` is forms.Painter (its text() encodes through IPAmj明朝, refusing missing glyphs)."""
    text = p.text  # type: ignore[attr-defined]
    top = page_h - ADDRESS_TOP
    lines = mail_to.lines()
    sizes = [10.5] + [12.0] * (len(lines) - 2) + [14.0] if len(lines) > 1 else [14.0]
    if lines[0].startswith("〒"):
        sizes[0] = 11.0
    y = top - 12
    for line, size in zip(lines, sizes, strict=True):
        text(ADDRESS_LEFT, y, line, size, max_width=ADDRESS_WIDTH)
        y -= size + 6
    # Fold marks at the left and right edges.
    c.setLineWidth(0.4)
    for fold in FOLDS:
        c.line(0, page_h - fold, 6 * mm, page_h - fold)
        c.line(page_w - 6 * mm, page_h - fold, page_w, page_h - fold)
    # The second panel: what this is (not a certificate).
    x = 25 * mm
    y = page_h - FOLDS[0] - 18 * mm
    text(x, y, "送　付　書", 16, char_space=4)
    y -= 26
    body = [
        f"ご請求の{doc.title}をお送りします。",
        "代理人による請求で個人番号が記載されているため、窓口では交付せず、",
        "住民票に記載された住所あてに郵送しています。",
        "",
        f"交付番号　{doc.issuance_no}",
        f"交付日　　{doc.issued_on_text}",
        f"同封　　　{doc.title}　{doc.sheet_count}枚 × {doc.copies}通",
        "",
        f"{doc.municipality.name}",
        "この書面は証明書ではありません。",
    ]
    for line in body:
        if line:
            text(x, y, line, 10.5)
        y -= 17
