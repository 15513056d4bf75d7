"""The 住民票 forms: 世帯連記式, 個人票 and 住民票の除票の写し (A4 portrait), drawn with reportlab.

The print model (app.domain.certificates.CertificateDocument) already decides what is printed
and where sheets break; this module only lays it out. Every string goes through
`Fonts.encode`, which turns IVS into their variant glyphs and refuses characters the font
does not have (MissingGlyph): a certificate never carries a wrong or missing character.
"""

from __future__ import annotations

import copy
import hashlib
import io
import threading
from collections.abc import Callable
from pathlib import Path

from reportlab import rl_config
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfdoc
from reportlab.pdfgen.canvas import Canvas

from app.domain.certificates import (
    FORM_LABELS,
    Cell,
    CertificateDocument,
    FormKind,
    PersonBlock,
    Sheet,
    content_digest,
    qr_payload,
    signed_bytes,
)
from printing import security
from printing.fonts import Fonts, get_fonts
from printing.mailing import draw_address_sheet

PAGE_W, PAGE_H = security.PAGE_W, security.PAGE_H
LEFT, RIGHT = 40.0, PAGE_W - 40.0
WIDTH = RIGHT - LEFT
LABEL_W = 66.0
ROW_H = 12.0
NAME_ROW_H = 17.0
KANA_ROW_H = 10.0
VALUE_SIZE = 8.5
NAME_SIZE = 12.5
KANA_SIZE = 6.8
LABEL_SIZE = 6.3
LABEL_FILL = (0.94, 0.95, 0.97)
CERT_AREA_TOP = 195.0  # the 認証文 block lives below this line on certified sheets
FOOTER_TOP = 104.0
QR_SIZE = 76.0

# The demo's 公印 (its server signs and sends it like a real one); nothing here prints it by
# default: an issued certificate carries the seal the caller verified (app/services/seal.py).
DEMO_SEAL_PATH = Path(__file__).resolve().parent.parent / "resources" / "seal" / "demo_seal.png"

Signer = Callable[[bytes], bytes]

# Without reportlab's C accelerator ASCII85 encoding is pure Python and slow; plain binary
# streams (Flate compressed) are as valid and smaller.
rl_config.useA85 = 0

# reportlab's TTFont keeps per-document state; one render at a time keeps that simple and safe
# (every renderer of printing/ takes it).
render_lock = threading.Lock()


class Seal:
    """The 公印 image as a PDF image XObject (and its alpha mask), compressed once per
    process: reportlab's drawImage decodes and deflates the PNG again for every document
    (~10 ms of a ~40 ms render)."""

    def __init__(self, png: bytes) -> None:
        reader = ImageReader(io.BytesIO(png))
        self.name = f"madoguchi-seal-{hashlib.sha256(png).hexdigest()[:16]}"
        self.image = pdfdoc.PDFImageXObject(self.name, reader, mask="auto")
        self.smask = getattr(self.image, "_smask", None)
        if self.smask is not None:
            del self.image._smask

    def draw(self, c: Canvas, x: float, y: float, w: float, h: float) -> None:
        # As Canvas.drawImage does, with the prepared objects.
        doc = c._doc
        reg_name = doc.getXObjectName(self.name)
        if doc.idToObject.get(reg_name) is None:
            image = copy.copy(self.image)  # per document: it gets the document's references
            c._setXObjects(image)
            doc.Reference(image, reg_name)
            doc.addForm(self.name, image)
            if self.smask is not None:
                smask = copy.copy(self.smask)
                c._setXObjects(smask)
                image.smask = doc.Reference(smask, doc.getXObjectName(self.smask.name))
        c._currentPageHasImages = 1
        c.saveState()
        c.translate(x, y)
        c.scale(w, h)
        c._code.append(f"/{reg_name} Do")
        c.restoreState()
        c._formsinuse.append(self.name)


_seals: dict[str, Seal] = {}
_seals_lock = threading.Lock()


def seal_image(png: bytes) -> Seal:
    """One prepared image per seal (by content); a new seal (a new mayor) replaces the old."""
    key = hashlib.sha256(png).hexdigest()
    with _seals_lock:
        seal = _seals.get(key)
        if seal is None:
            if len(_seals) >= 4:
                _seals.clear()
            seal = _seals[key] = Seal(png)
        return seal


def demo_seal_png() -> bytes:
    return DEMO_SEAL_PATH.read_bytes()


def preload(seal_png: bytes | None = None) -> None:
    """Everything the first render would otherwise load: the font, the seal, the encoders."""
    get_fonts()
    if seal_png is not None:
        seal_image(seal_png)


class Painter:
    """Text in IPAmj明朝 (an IVS as its variant glyph; MissingGlyph for what the font lacks)
    and rules on one canvas: shared by the 住民票 forms and printing/notification_forms.py."""

    def __init__(self, c: Canvas, fonts: Fonts) -> None:
        self.c = c
        self.fonts = fonts

    def text(
        self,
        x: float,
        y: float,
        text: str,
        size: float,
        *,
        person_id: str | None = None,
        max_width: float | None = None,
        align: str = "left",
        char_space: float = 0.0,
    ) -> None:
        if not text:
            return
        encoded = self.fonts.encode(text, person_id)
        name = self.fonts.name
        width = self.c.stringWidth(encoded, name, size) + char_space * (len(encoded) - 1)
        if max_width is not None and width > max_width:
            # Long addresses shrink rather than being cut: every character must print.
            size = size * max_width / width
            width = max_width
        if align == "right":
            x -= width
        elif align == "center":
            x -= width / 2
        # The text operators written directly: what Canvas.drawString emits for a TrueType
        # font, minus its pure-Python number formatting (a form has ~100 strings).
        font = self.fonts.font
        doc = self.c._doc
        shows = [
            f"{font.getSubsetInternalName(subset, doc)} {size:.3f} Tf ({_escape(chunk)}) Tj"
            for subset, chunk in font.splitString(encoded, doc)
        ]
        # q/Q: the character spacing (text state) must not leak into reportlab's own texts.
        self.c.addLiteral(
            f"q BT 1 0 0 1 {x:.3f} {y:.3f} Tm {char_space:.3f} Tc " + " ".join(shows) + " ET Q"
        )


# PDF string escapes for the bytes of a font subset: printable ASCII as is, the rest octal.
_ESCAPES = [chr(b) if 32 <= b < 127 and chr(b) not in "\\()" else f"\\{b:03o}" for b in range(256)]


def _escape(chunk: bytes) -> str:
    return "".join(map(_ESCAPES.__getitem__, chunk))


def _row_height(row: tuple[Cell, ...]) -> float:
    if any(c.name for c in row) and len(row) == 1:
        return NAME_ROW_H
    if len(row) == 1 and row[0].label == "フリガナ":
        return KANA_ROW_H
    return ROW_H


def _block_height(block: PersonBlock) -> float:
    return sum(_row_height(r) for r in block.rows)


def _label_w(p: Painter, cell: Cell, cell_w: float, scale: float) -> float:
    """The label column of a cell: LABEL_W, wider for a long label (外国人住民となった年月日,
    法第30条の45に規定する区分) rather than a label shrunk below legibility; at most half."""
    if len(cell.label) <= 7:
        return LABEL_W
    fonts = p.fonts
    need = p.c.stringWidth(fonts.encode(cell.label), fonts.name, LABEL_SIZE * scale) + 6
    return min(max(LABEL_W, need), cell_w / 2)


def _draw_cells(
    p: Painter,
    row: tuple[Cell, ...],
    top: float,
    h: float,
    scale: float,
    fills: list[str],
    rules: list[str],
) -> None:
    """Texts of one row; its label backgrounds and rules are collected as PDF operators
    (reportlab formats every number in pure Python: a grid costs ~10 ms that way)."""
    cell_w = WIDTH / len(row)
    for i, cell in enumerate(row):
        x = LEFT + i * cell_w
        label_w = _label_w(p, cell, cell_w, scale)
        rules.append(f"{x + label_w:.2f} {top:.2f} m {x + label_w:.2f} {top - h:.2f} l")
        if i:
            rules.append(f"{x:.2f} {top:.2f} m {x:.2f} {top - h:.2f} l")
        baseline = top - h + (h - VALUE_SIZE * scale) / 2 + 1.5 * scale
        p.text(x + 3, baseline, cell.label, LABEL_SIZE * scale, max_width=label_w - 5)
        if cell.label == "フリガナ":
            size = KANA_SIZE
        elif cell.name and len(row) == 1:
            size = NAME_SIZE
        else:
            size = VALUE_SIZE
        p.text(
            x + label_w + 4,
            baseline,
            cell.value,
            size * scale,
            person_id=cell.person_id,
            max_width=cell_w - label_w - 8,
        )


def _draw_block(p: Painter, block: PersonBlock, top: float, scale: float) -> float:
    fills: list[str] = []
    rules: list[str] = []
    heights = [_row_height(row) * scale for row in block.rows]
    bottom = top - sum(heights)
    # Backgrounds first (the texts go on top of them), inside q/Q so that reportlab's idea of
    # the current colours and line width stays true.
    y = top
    for h, row in zip(heights, block.rows, strict=True):
        cell_w = WIDTH / len(row)
        fills.extend(
            f"{LEFT + i * cell_w:.2f} {y - h:.2f} {_label_w(p, c, cell_w, scale):.2f} {h:.2f} re"
            for i, c in enumerate(row)
        )
        y -= h
    r, g, b = LABEL_FILL
    p.c.addLiteral(f"q {r} {g} {b} rg\n" + "\n".join(fills) + "\nf Q")
    fills.clear()
    y = top
    for h, row in zip(heights, block.rows, strict=True):
        _draw_cells(p, row, y, h, scale, fills, rules)
        y -= h
        rules.append(f"{LEFT:.2f} {y:.2f} m {RIGHT:.2f} {y:.2f} l")
    p.c.addLiteral(
        "q 0 0 0 RG 0.3 w\n"
        + "\n".join(rules)
        + f"\nS 0.9 w {LEFT:.2f} {bottom:.2f} {WIDTH:.2f} {top - bottom:.2f} re S Q"
    )
    return bottom


def _draw_header(p: Painter, doc: CertificateDocument, sheet: Sheet) -> float:
    c = p.c
    n, m = sheet.number, len(doc.sheets)
    p.text(RIGHT, PAGE_H - 30, f"交付番号　{doc.issuance_no}　　{n}/{m}", 8, align="right")
    p.text(PAGE_W / 2, PAGE_H - 62, doc.title, 18, align="center", char_space=6)
    top = PAGE_H - 78
    c.setLineWidth(0.3)
    for cell in sheet.header:
        h = 16.0
        c.setFillColorRGB(*LABEL_FILL)
        c.rect(LEFT, top - h, LABEL_W, h, stroke=0, fill=1)
        c.setFillColorRGB(0, 0, 0)
        c.line(LEFT + LABEL_W, top, LEFT + LABEL_W, top - h)
        p.text(LEFT + 3, top - h + 5, cell.label, LABEL_SIZE + 1, max_width=LABEL_W - 5)
        size = NAME_SIZE if cell.name else 10
        p.text(
            LEFT + LABEL_W + 4,
            top - h + 4.5,
            cell.value,
            size,
            person_id=cell.person_id,
            max_width=WIDTH - LABEL_W - 8,
        )
        top -= h
        c.line(LEFT, top, RIGHT, top)
    c.setLineWidth(0.9)
    c.rect(LEFT, top, WIDTH, PAGE_H - 78 - top, stroke=1, fill=0)
    return top - 8


def _draw_certification(p: Painter, doc: CertificateDocument, seal: Seal | None) -> None:
    c = p.c
    p.text(LEFT + 24, CERT_AREA_TOP - 28, doc.certification, 10.5)
    p.text(LEFT + 40, CERT_AREA_TOP - 50, doc.issued_on_text, 10.5)
    mayor = f"{doc.municipality.mayor_title}　{doc.municipality.mayor_name}"
    x_end = RIGHT - 40
    y = CERT_AREA_TOP - 80
    p.text(x_end, y, mayor, 13, align="right")
    if seal is not None:
        # The 公印 overlaps the last character of the mayor's name, as stamped by hand.
        size = 54
        seal.draw(c, x_end - size / 2 - 4, y - 20, size, size)


def _draw_footer(p: Painter, doc: CertificateDocument, sheet: Sheet, payload: str) -> None:
    c = p.c
    micro = (
        f"{doc.municipality.name}　{doc.title}　交付番号{doc.issuance_no}　"
        f"{sheet.number}/{len(doc.sheets)}　MADOGUCHI"
    )
    security.draw_microtext(c, p.fonts, micro, LEFT, FOOTER_TOP - 6, WIDTH)
    qr_size = QR_SIZE
    security.draw_qr(c, LEFT - 4, 18)
    p.text(LEFT + qr_size + 6, 70, f"交付番号　{doc.issuance_no}", 8)
    p.text(LEFT + qr_size + 6, 58, f"{sheet.number}/{len(doc.sheets)}枚", 8)
    p.text(
        LEFT + qr_size + 6,
        46,
        "この証明書の真正性は、QRコードを madoguchi certificate verify で確認できます。",
        6.5,
    )
    p.text(
        RIGHT,
        30,
        "この証明書は偽造防止のため地紋とマイクロ文字を印刷しています。",
        6.5,
        align="right",
    )


def _draw_sheet(
    p: Painter,
    doc: CertificateDocument,
    sheet: Sheet,
    payload: str,
    sample: bool,
    seal: Seal | None,
) -> None:
    security.draw_ground(p.c)
    top = _draw_header(p, doc, sheet)
    bottom_limit = CERT_AREA_TOP + 20 if sheet.certified else FOOTER_TOP + 6
    total = sum(_block_height(b) + 6 for b in sheet.blocks)
    available = top - bottom_limit
    # A sheet too full for the standard row height is drawn a little smaller, never cut.
    scale = min(1.0, available / total) if total else 1.0
    y = top
    for block in sheet.blocks:
        y = _draw_block(p, block, y, scale) - 6 * scale
    if sheet.certified:
        p.text(PAGE_W / 2, y - 8, doc.ending, 9, align="center", char_space=4)
        _draw_certification(p, doc, seal)
    _draw_footer(p, doc, sheet, payload)
    if sample:
        security.draw_sample_watermark(p.c, p.fonts)


def render_certificate(
    document: CertificateDocument,
    *,
    sample: bool,
    sign: Signer | None = None,
    seal_png: bytes | None = None,
) -> bytes:
    """The certificate as PDF bytes. `sample` prints 見本 over every sheet.

    An issued certificate (sample=False) must be signed: `sign` receives the payload bytes
    (app.domain.certificates.signed_bytes) and returns the terminal key's signature; and it
    must carry the 公印 `seal_png` (the server's signed seal, verified by the caller). A 見本
    carries `seal_png` when given, else no seal.
    """
    if not sample and sign is None:
        raise ValueError("an issued certificate needs a signer (terminal key)")
    if not sample and not seal_png:
        raise ValueError("an issued certificate needs the 公印 (seal_png)")
    fonts = get_fonts()
    digest = content_digest(document)
    to_sign = signed_bytes(document.issuance_no, digest, document.terminal_no)
    signature = sign(to_sign) if sign is not None else b""
    payload = qr_payload(document.issuance_no, digest, document.terminal_no, signature)
    seal = seal_image(seal_png) if seal_png else None

    buf = io.BytesIO()
    with render_lock:
        # initialFontName: otherwise reportlab references a non-embedded Helvetica.
        c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=fonts.name)
        title = document.title + ("（見本）" if sample else "")
        c.setTitle(f"{title} {document.issuance_no}")
        c.setAuthor(document.municipality.name)
        c.setSubject(document.form.value)
        p = Painter(c, fonts)
        security.define_ground(c, fonts)
        security.define_qr(c, payload, QR_SIZE)
        if document.mail_to is not None:
            # 郵送: the address sheet first, for the window envelope (printing/mailing.py).
            draw_address_sheet(p, c, document, document.mail_to, PAGE_W, PAGE_H)
            if sample:
                security.draw_sample_watermark(c, fonts)
            c.showPage()
        for sheet in document.sheets:
            _draw_sheet(p, document, sheet, payload, sample, seal)
            c.showPage()
        c.save()
    return buf.getvalue()


def form_label(form: FormKind) -> str:
    return FORM_LABELS[form]
