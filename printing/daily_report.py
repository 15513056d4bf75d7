"""日計表: the day's certificates, copies and fees by kind, as a one-page PDF."""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from reportlab.pdfgen.canvas import Canvas

from app.domain.certificates import format_wareki
from printing.fonts import get_fonts
from printing.security import PAGE_H, PAGE_W


@dataclass(frozen=True, slots=True)
class DailyRow:
    kind: str  # e.g. 住民票の写し（世帯連記式）
    issued: int  # 交付件数
    copies: int  # 通数
    fee_yen: int
    voided: int = 0  # 取消件数
    mailed: int = 0  # うち郵送 (issued, not voided)


def render_daily_report(
    rows: Iterable[
        DailyRow
        | tuple[str, int, int, int]
        | tuple[str, int, int, int, int]
        | tuple[str, int, int, int, int, int]
    ],
    day: date,
    *,
    office: str = "",
    terminal_no: str = "",
) -> bytes:
    """One A4 page: a row per kind, then the totals. Rows may be DailyRow or plain tuples."""
    items = [r if isinstance(r, DailyRow) else DailyRow(*r) for r in rows]
    fonts = get_fonts()
    f = fonts.name

    def text(c: Canvas, x: float, y: float, s: str, size: float, align: str = "left") -> None:
        encoded = fonts.encode(s)
        c.setFont(f, size)
        if align == "right":
            c.drawRightString(x, y, encoded)
        elif align == "center":
            c.drawCentredString(x, y, encoded)
        else:
            c.drawString(x, y, encoded)

    buf = io.BytesIO()
    c = Canvas(buf, pagesize=(PAGE_W, PAGE_H), pageCompression=1)
    c.setTitle(f"日計表 {day.isoformat()}")
    text(c, PAGE_W / 2, PAGE_H - 70, "日　計　表", 18, "center")
    text(c, 50, PAGE_H - 100, f"{format_wareki(day)}（{day.isoformat()}）", 10.5)
    text(c, PAGE_W - 50, PAGE_H - 100, f"{office}　端末 {terminal_no}".strip(), 10.5, "right")
    # Right edges of the numeric columns: 件数, うち郵送, 通数, 取消, 手数料.
    right = (290.0, 350.0, 410.0, 470.0, 541.0)
    y = PAGE_H - 130
    c.setLineWidth(0.6)
    c.line(50, y + 14, 545, y + 14)
    text(c, 52, y, "種別", 9)
    for x, head in zip(right, ("件数", "うち郵送", "通数", "取消", "手数料（円）"), strict=True):
        text(c, x, y, head, 9, "right")
    c.line(50, y - 5, 545, y - 5)

    def numbers(r: DailyRow, y: float, size: float) -> None:
        values = (r.issued, r.mailed, r.copies, r.voided, r.fee_yen)
        for x, v in zip(right, values, strict=True):
            text(c, x, y, f"{v:,}", size, "right")

    for r in items:
        y -= 18
        text(c, 52, y, r.kind, 9.5)
        numbers(r, y, 9.5)
    total = DailyRow(
        "合計",
        sum(r.issued for r in items),
        sum(r.copies for r in items),
        sum(r.fee_yen for r in items),
        sum(r.voided for r in items),
        sum(r.mailed for r in items),
    )
    y -= 10
    c.line(50, y, 545, y)
    y -= 16
    text(c, 52, y, "合計", 10)
    numbers(total, y, 10)
    c.line(50, y - 6, 545, y - 6)
    c.showPage()
    c.save()
    return buf.getvalue()
