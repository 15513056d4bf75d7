"""The 住民異動届 (A4, for the resident's signature) and the 転出証明書, drawn with reportlab.

The print models (app.domain.notifications.forms) decide what is printed; this module lays it
out like the standard 住民異動届: 届出日 and 異動の種別 at the top, 新旧住所 with their 世帯主,
the persons with 続柄, the 届出人 with a box for the signature, the 本人確認 documents, and the
clerk's confirmation boxes. Every string goes through the same painter as the 住民票 forms:
IVS as their variant glyph (IPAmj明朝), and a character the font lacks stops the print
(MissingGlyph) — a 届書 or 転出証明書 never carries a wrong or missing character.
"""

from __future__ import annotations

import io

from reportlab.pdfgen.canvas import Canvas

from app.domain.certificates import MissingGlyph
from app.domain.notifications.forms import (
    Box,
    FormGlyphMissing,
    FormSheet,
    MoveOutCertificateSheet,
    NotificationForm,
)
from printing import security
from printing.fonts import get_fonts
from printing.forms import Painter, render_lock, seal_image

PAGE_W, PAGE_H = security.PAGE_W, security.PAGE_H
LEFT, RIGHT = 36.0, PAGE_W - 36.0
WIDTH = RIGHT - LEFT
LABEL_W = 64.0
LABEL_FILL = "0.94 0.95 0.97"
CHECKED, UNCHECKED = "■", "□"


class _Grid:
    """Rectangles, label backgrounds and texts of one page, written as few PDF operators."""

    def __init__(self, p: Painter) -> None:
        self.p = p
        self.rules: list[str] = []

    def cell(
        self,
        x: float,
        top: float,
        w: float,
        h: float,
        label: str,
        value: str = "",
        *,
        size: float = 10.0,
        label_w: float = LABEL_W,
        person_id: str | None = None,
        sub: str = "",
    ) -> None:
        """A box with a shaded label on its left and the value (optionally a second line)."""
        self.shade(x, top, label_w, h)
        self.rules.append(f"{x:.2f} {top - h:.2f} {w:.2f} {h:.2f} re")
        self.rules.append(f"{x + label_w:.2f} {top:.2f} m {x + label_w:.2f} {top - h:.2f} l")
        self.p.text(x + 3, top - h / 2 - 2.5, label, 7.0, max_width=label_w - 6)
        inner = w - label_w - 8
        if sub:
            self.p.text(
                x + label_w + 4, top - h / 2 + 2, value, size, person_id=person_id, max_width=inner
            )
            self.p.text(
                x + label_w + 4, top - h + 5, sub, size - 1.5, person_id=person_id, max_width=inner
            )
        else:
            self.p.text(
                x + label_w + 4,
                top - h / 2 - size / 2 + 1.5,
                value,
                size,
                person_id=person_id,
                max_width=inner,
            )

    def shade(self, x: float, top: float, w: float, h: float) -> None:
        """A label background, drawn at once: the texts that follow go on top of it."""
        self.p.c.addLiteral(f"q {LABEL_FILL} rg {x:.2f} {top - h:.2f} {w:.2f} {h:.2f} re f Q")

    def rect(self, x: float, top: float, w: float, h: float) -> None:
        self.rules.append(f"{x:.2f} {top - h:.2f} {w:.2f} {h:.2f} re")

    def line(self, x0: float, y0: float, x1: float, y1: float) -> None:
        self.rules.append(f"{x0:.2f} {y0:.2f} m {x1:.2f} {y1:.2f} l")

    def flush(self) -> None:
        if self.rules:
            self.p.c.addLiteral("q 0 0 0 RG 0.6 w\n" + "\n".join(self.rules) + "\nS Q")
        self.rules.clear()


def _boxes(boxes: tuple[Box, ...]) -> str:
    return "　".join(f"{CHECKED if b.checked else UNCHECKED}{b.label}" for b in boxes)


def _notification_sheet(p: Painter, form: NotificationForm, sheet: FormSheet, total: int) -> None:
    g = _Grid(p)
    top = PAGE_H - 40
    p.text(
        RIGHT,
        top + 8,
        f"受付番号　{form.notification_id[:8]}　　{sheet.number}/{total}",
        7,
        align="right",
    )
    p.text(PAGE_W / 2, top - 22, form.title, 22, align="center", char_space=10)
    p.text(LEFT, top - 48, form.addressee, 11)
    p.text(RIGHT, top - 48, f"{form.filed_on}　届出", 11, align="right")
    y = top - 60

    kinds = _boxes(form.procedures) + ("　（個人番号カードによる特例）" if form.special else "")
    g.cell(LEFT, y, WIDTH, 28, "異動の種別", kinds, size=11)
    y -= 28
    half = WIDTH / 2
    g.cell(LEFT, y, half, 26, form.moved_label, form.moved_on, size=11)
    g.cell(LEFT + half, y, half, 26, "受付窓口", form.office, size=10.5)
    y -= 26
    head_w = 190.0
    for label, address, katagaki, head, head_id in (
        (form.new_label, form.new_address, form.new_katagaki, form.new_head, form.new_head_id),
        (form.old_label, form.old_address, form.old_katagaki, form.old_head, form.old_head_id),
    ):
        g.cell(LEFT, y, WIDTH - head_w, 44, label, address, size=10.5, sub=katagaki)
        g.cell(
            RIGHT - head_w, y, head_w, 44, "世帯主", head, size=12, label_w=44, person_id=head_id
        )
        y -= 44

    # The persons: one row each, with フリガナ above the name.
    y -= 10
    cols = (
        ("", 20.0),
        ("氏名（フリガナ）", 206.0),
        ("生年月日", 110.0),
        ("性別", 34.0),
        ("続柄", 70.0),
    )
    widths = [w for _, w in cols] + [WIDTH - sum(w for _, w in cols)]
    heads = [label for label, _ in cols] + ["備考"]
    g.shade(LEFT, y, WIDTH, 18)
    x = LEFT
    for label, w in zip(heads, widths, strict=True):
        p.text(x + w / 2, y - 12.5, label, 8, align="center")
        x += w
    g.rect(LEFT, y, WIDTH, 18)
    y -= 18
    row_h = 36.0
    xs = [LEFT]
    for w in widths[:-1]:
        xs.append(xs[-1] + w)
    rows = list(sheet.persons) + [None] * (6 - len(sheet.persons))
    first_no = (sheet.number - 1) * 6
    for i, person in enumerate(rows):
        for x in xs[1:]:
            g.line(x, y, x, y - row_h)
        g.rect(LEFT, y, WIDTH, row_h)
        if person is not None:
            mid = y - row_h / 2 - 3.5
            p.text(xs[0] + widths[0] / 2, mid, str(first_no + i + 1), 9.5, align="center")
            p.text(
                xs[1] + 6,
                y - 10,
                person.name_kana,
                7,
                person_id=person.person_id,
                max_width=widths[1] - 12,
            )
            p.text(
                xs[1] + 6,
                y - 28,
                person.name,
                14,
                person_id=person.person_id,
                max_width=widths[1] - 12,
            )
            p.text(xs[2] + 6, mid, person.birth_date, 10, max_width=widths[2] - 12)
            p.text(xs[3] + widths[3] / 2, mid, person.sex, 10.5, align="center")
            p.text(xs[4] + 6, mid, person.relationship, 10.5, max_width=widths[4] - 12)
            p.text(xs[5] + 5, mid, person.note, 8, max_width=widths[5] - 10)
        y -= row_h

    # The 届出人 and the box for the signature.
    y -= 10
    sign_w = 210.0
    g.cell(
        LEFT,
        y,
        WIDTH - sign_w,
        32,
        "届出人",
        form.filer_name,
        size=13,
        person_id=form.filer_person_id,
    )
    g.cell(LEFT, y - 32, WIDTH - sign_w, 26, "本人との関係", _boxes(form.filer_relations), size=9.5)
    g.rect(RIGHT - sign_w, y, sign_w, 58)
    p.text(RIGHT - sign_w + 5, y - 10, "届出人署名（内容を確認のうえ自署してください）", 7)
    y -= 58
    g.cell(LEFT, y, WIDTH - 170, 24, "届出人の住所", form.filer_address, size=9.5)
    g.cell(RIGHT - 170, y, 170, 24, "電話", form.filer_phone, size=9.5, label_w=32)
    y -= 24
    docs = form.documents
    g.cell(LEFT, y, WIDTH, 38, "本人確認書類", _boxes(docs[:4]), size=9, sub=_boxes(docs[4:]))
    y -= 38

    # 備考 on the left, the clerk's boxes (for stamps and initials) on the right.
    y -= 10
    box_w, box_h = 50.0, 58.0
    boxes_w = box_w * len(form.clerk_boxes)
    notes_w = WIDTH - boxes_w - 10
    g.rect(LEFT, y, notes_w, box_h + 14)
    p.text(LEFT + 5, y - 11, "備考", 7.5)
    for i, note in enumerate(form.notes[:5]):
        p.text(LEFT + 10, y - 24 - 11.5 * i, note, 8, max_width=notes_w - 16)
    bx = RIGHT - boxes_w
    p.text(bx, y - 9, "市記入欄（職員が確認して押印）", 6.5)
    for i, label in enumerate(form.clerk_boxes):
        x = bx + i * box_w
        g.shade(x, y - 14, box_w, 13)
        g.rect(x, y - 14, box_w, box_h)
        g.line(x, y - 27, x + box_w, y - 27)
        p.text(x + box_w / 2, y - 24, label, 7, align="center")
    g.flush()

    p.text(
        LEFT,
        44,
        "この届書は、窓口で職員がお聞きした内容から作成しました。内容をお確かめのうえ、署名してください。",
        8,
    )
    p.text(LEFT, 30, f"受付番号　{form.notification_id}", 6.5)
    p.text(RIGHT, 30, f"{sheet.number}/{total}枚", 7.5, align="right")


def render_notification_form(form: NotificationForm) -> bytes:
    """The 住民異動届 as PDF bytes, one A4 sheet per six persons."""
    fonts = get_fonts()
    buf = io.BytesIO()
    with render_lock:
        c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=fonts.name)
        c.setTitle(f"{form.title} {form.notification_id}")
        c.setSubject("notification")
        p = Painter(c, fonts)
        try:
            for sheet in form.sheets:
                _notification_sheet(p, form, sheet, len(form.sheets))
                c.showPage()
        except MissingGlyph as exc:
            raise FormGlyphMissing(exc, "住民異動届") from None
        c.save()
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# 転出証明書


def render_move_out_certificate(
    sheet: MoveOutCertificateSheet,
    *,
    sample: bool,
    municipality_name: str,
    seal_png: bytes | None = None,
) -> bytes:
    """The 転出証明書 as PDF bytes (地紋, 公印; 見本 over a rendering that is not issued).

    Issued (sample=False) it must carry the 公印 `seal_png`: the server's signed seal, verified
    by the caller (app/services/seal.py), as for the 住民票; there is no default seal."""
    if not sample and not seal_png:
        raise ValueError("an issued 転出証明書 needs the 公印 (seal_png)")
    fonts = get_fonts()
    seal = seal_image(seal_png) if seal_png else None
    buf = io.BytesIO()
    with render_lock:
        c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1, initialFontName=fonts.name)
        c.setTitle(sheet.title + ("（見本）" if sample else "") + f" {sheet.certificate_no}")
        c.setAuthor(municipality_name)
        c.setSubject("move_out_certificate")
        p = Painter(c, fonts)
        security.define_ground(c, fonts)
        pages = _pages(sheet)
        try:
            _certificate_pages(c, p, sheet, pages, sample, municipality_name, seal)
        except MissingGlyph as exc:
            raise FormGlyphMissing(exc, "転出証明書") from None
        c.save()
    return buf.getvalue()


def _certificate_pages(
    c: Canvas,
    p: Painter,
    sheet: MoveOutCertificateSheet,
    pages: list[tuple],  # type: ignore[type-arg]
    sample: bool,
    municipality_name: str,
    seal,  # type: ignore[no-untyped-def]
) -> None:
    for number, persons in enumerate(pages, 1):
        security.draw_ground(c)
        _certificate_page(p, sheet, persons, number, len(pages), number == len(pages), seal)
        micro = f"{municipality_name}　転出証明書　{sheet.certificate_no}　MADOGUCHI"
        security.draw_microtext(c, p.fonts, micro, LEFT, 56, WIDTH)
        if sample:
            security.draw_sample_watermark(c, p.fonts)
        c.showPage()


CERTIFICATE_TOP = PAGE_H - 40 - 44 - 10  # below the title and the gap after the header
CERTIFICATE_BOTTOM = 76.0  # above the microtext and the footer
CERTIFICATION_H = 120.0  # the 認証文, the date, the mayor and the seal


def _block_height(lines: tuple) -> float:  # type: ignore[type-arg]
    pairs = -(-(len(lines) - 1) // 2)  # the lines after the name, two to a row
    return 24 + 18 * pairs + 8


def _pages(sheet: MoveOutCertificateSheet) -> list[tuple]:  # type: ignore[type-arg]
    """Persons per page: as many blocks as fit; the last page keeps room for the 認証文."""
    room = CERTIFICATE_TOP - 20 * len(sheet.header) - CERTIFICATE_BOTTOM
    pages: list[list] = [[]]  # type: ignore[type-arg]
    used = 0.0
    for lines in sheet.persons:
        h = _block_height(lines)
        if pages[-1] and used + h > room:
            pages.append([])
            used = 0.0
        pages[-1].append(lines)
        used += h
    if pages[-1] and used + CERTIFICATION_H > room:
        # The 認証文 must follow a person on its sheet: move the last one over when there is
        # more than one, else the 認証文 gets a sheet of its own.
        pages.append([pages[-1].pop()] if len(pages[-1]) > 1 else [])
    return [tuple(p) for p in pages]


def _certificate_page(
    p: Painter,
    sheet: MoveOutCertificateSheet,
    persons: tuple,  # type: ignore[type-arg]
    page: int,
    pages: int,
    last: bool,
    seal,  # type: ignore[no-untyped-def]
) -> None:
    g = _Grid(p)
    top = PAGE_H - 40
    p.text(
        RIGHT, top + 6, f"証明書番号　{sheet.certificate_no}　　{page}/{pages}", 7.5, align="right"
    )
    p.text(PAGE_W / 2, top - 22, sheet.title, 20, align="center", char_space=8)
    y = top - 44
    for line in sheet.header:
        g.cell(LEFT, y, WIDTH, 20, line.label, line.value, size=10.5, label_w=80)
        y -= 20
    y -= 10
    half = WIDTH / 2
    for lines in persons:
        block_top = y
        name = lines[0]
        g.cell(LEFT, y, WIDTH, 24, name.label, name.value, size=13, label_w=80, person_id=None)
        y -= 24
        for pair in [lines[1:][i : i + 2] for i in range(0, len(lines) - 1, 2)]:
            for k, line in enumerate(pair):
                g.cell(LEFT + k * half, y, half, 18, line.label, line.value, size=9.5, label_w=80)
            y -= 18
        g.rules.append(f"0.8 w {LEFT:.2f} {y:.2f} {WIDTH:.2f} {block_top - y:.2f} re S 0.6 w")
        y -= 8
    g.flush()
    if last:
        p.text(LEFT + 30, y - 24, sheet.certification, 11)
        p.text(LEFT + 50, y - 48, sheet.issued_on, 11)
        x_end = RIGHT - 40
        p.text(x_end, y - 84, sheet.mayor, 13.5, align="right")
        if seal is not None:
            size = 54
            seal.draw(p.c, x_end - size / 2 - 4, y - 104, size, size)
    p.text(
        LEFT,
        40,
        "この証明書は転入届に添えて転入先の市区町村に提出してください（住民基本台帳法第22条第2項）。",
        7.5,
    )
