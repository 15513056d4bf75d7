"""Anti-forgery layers: 地紋 with the けん制文字「複写」, a microtext line, the QR code, 見本.

The 地紋 is drawn once per document as a Form XObject and placed on every sheet, so a sheet
costs one reference instead of thousands of path operations.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import segno
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from printing.fonts import Fonts

PAGE_W, PAGE_H = A4
TINT = (0.80, 0.86, 0.93)  # pale blue, the usual 地紋 colour
WARNING_WORD = "複写"
GROUND_FORM = "madoguchi-ground"


@lru_cache(maxsize=1)
def _ground_lines() -> str:
    """PDF path operators of the wavy lines; built once per process (reportlab's number
    formatting is pure Python and would cost ~20 ms per document)."""
    ops: list[str] = []
    step = 14.0
    for k in range(int(PAGE_H / step) + 2):
        y0 = k * step
        ops.append(f"0 {y0:.1f} m")
        x = 0.0
        while x < PAGE_W:
            # one sine period as two cubic Béziers
            x1 = x + 36.0
            ops.append(f"{x + 12:.0f} {y0 + 4:.1f} {x + 24:.0f} {y0 + 4:.1f} {x1:.0f} {y0:.1f} c")
            ops.append(
                f"{x1 + 12:.0f} {y0 - 4:.1f} {x1 + 24:.0f} {y0 - 4:.1f} {x1 + 36:.0f} {y0:.1f} c"
            )
            x = x1 + 36
    ops.append("S")
    return "\n".join(ops)


def define_ground(c: Canvas, fonts: Fonts) -> None:
    """Define the 地紋 form once per canvas: wavy guilloche lines and the hidden word.

    The けん制文字 is drawn in a lighter, finer tint than the lines so that it hardly shows on
    the original and stands out on a photocopy (copiers drop the fine lines first).
    """
    c.beginForm(GROUND_FORM)
    c.saveState()
    c.setStrokeColorRGB(*TINT)
    c.setLineWidth(0.25)
    c.addLiteral(_ground_lines())
    c.setFillColorRGB(0.90, 0.93, 0.97)
    c.setFont(fonts.name, 110)
    word = fonts.encode(WARNING_WORD)
    for cx, cy in ((PAGE_W * 0.5, PAGE_H * 0.70), (PAGE_W * 0.5, PAGE_H * 0.35)):
        c.saveState()
        c.translate(cx, cy)
        c.rotate(30)
        c.drawCentredString(0, -40, word)
        c.restoreState()
    c.restoreState()
    c.endForm()


def draw_ground(c: Canvas) -> None:
    c.doForm(GROUND_FORM)


def draw_microtext(c: Canvas, fonts: Fonts, text: str, x: float, y: float, width: float) -> None:
    """A line that looks solid to the eye and to a copier, but reads as text under a loupe."""
    size = 1.6
    c.saveState()
    c.setFillColorRGB(0.25, 0.25, 0.45)
    c.setFont(fonts.name, size)
    unit = fonts.encode(text + "　")
    face = fonts.font.face
    widths = [face.getCharWidth(ord(ch)) * size / 1000 for ch in unit]
    # Whole repetitions, then the characters of one more that still fit the margin.
    unit_w = sum(widths)
    repeat = int(width // unit_w)
    line = unit * repeat
    used = unit_w * repeat
    for ch, w in zip(unit, widths, strict=True):
        if used + w > width:
            break
        line += ch
        used += w
    c.drawString(x, y, line)
    c.restoreState()


QR_FORM = "madoguchi-qr"
QR_BORDER = 2  # quiet zone in modules (the white page around adds more)
# Any of the eight masks is valid; a fixed one spares the encoder's 8-way search.
QR_MASK = 2


def qr_modules(payload: str) -> list[list[bool]]:
    """The QR matrix (level M, no quiet zone) of `payload`, through segno."""
    qr = segno.make_qr(payload, error="m", mask=QR_MASK, boost_error=False)
    return [[bool(m) for m in row] for row in qr.matrix]


def define_qr(c: Canvas, payload: str, size: float) -> None:
    """The QR code as a form, drawn once per document: one path of dark runs per row."""
    modules = qr_modules(payload)
    count = len(modules)
    box = size / (count + 2 * QR_BORDER)
    c.beginForm(QR_FORM)
    c.saveState()
    c.setFillColorRGB(1, 1, 1)
    c.rect(0, 0, size, size, stroke=0, fill=1)
    c.setFillColorRGB(0, 0, 0)
    ops: list[str] = []
    for r, row in enumerate(modules):
        col = 0
        y = size - (r + QR_BORDER + 1) * box
        for dark, run in itertools.groupby(row):
            n = len(list(run))
            if dark:
                ops.append(f"{(col + QR_BORDER) * box:.3f} {y:.3f} {n * box:.3f} {box:.3f} re")
            col += n
    ops.append("f")
    c.addLiteral("\n".join(ops))
    c.restoreState()
    c.endForm()


def draw_qr(c: Canvas, x: float, y: float) -> None:
    c.saveState()
    c.translate(x, y)
    c.doForm(QR_FORM)
    c.restoreState()


def draw_sample_watermark(c: Canvas, fonts: Fonts) -> None:
    """見本: a rendering outside an issuance (preview, `certificate render`)."""
    c.saveState()
    c.setFillColorRGB(0.85, 0.1, 0.1)
    c.setFillAlpha(0.28)
    c.setFont(fonts.name, 180)
    c.translate(PAGE_W / 2, PAGE_H / 2)
    c.rotate(45)
    c.drawCentredString(0, -60, fonts.encode("見本"))
    c.restoreState()
