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


def render_daily_report(
    rows: Iterable[DailyRow | tuple[str, int, int, int] | tuple[str, int, int, int, int]],
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
    cols = (50, 300, 370, 440, 545)
    heads = ("種別", "件数", "通数", "取消", "手数料（円）")
    y = PAGE_H - 130
    c.setLineWidth(0.6)
    c.line(50, y + 14, 545, y + 14)
    for i, h in enumerate(heads):
        text(
            c,
            cols[i] + 2 if i == 0 else cols[i + 1] - 4 if i < 4 else 545 - 4,
            y,
            h,
            9,
            "left" if i == 0 else "right",
        )
    c.line(50, y - 5, 545, y - 5)
    total = DailyRow("合計", 0, 0, 0, 0)
    for r in items:
        y -= 18
        text(c, 52, y, r.kind, 9.5)
        text(c, cols[2] - 4, y, f"{r.issued:,}", 9.5, "right")
        text(c, cols[3] - 4, y, f"{r.copies:,}", 9.5, "right")
        text(c, cols[4] - 4, y, f"{r.voided:,}", 9.5, "right")
        text(c, 541, y, f"{r.fee_yen:,}", 9.5, "right")
        total = DailyRow(
            "合計",
            total.issued + r.issued,
            total.copies + r.copies,
            total.fee_yen + r.fee_yen,
            total.voided + r.voided,
        )
    y -= 10
    c.line(50, y, 545, y)
    y -= 16
    text(c, 52, y, "合計", 10)
    text(c, cols[2] - 4, y, f"{total.issued:,}", 10, "right")
    text(c, cols[3] - 4, y, f"{total.copies:,}", 10, "right")
    text(c, cols[4] - 4, y, f"{total.voided:,}", 10, "right")
    text(c, 541, y, f"{total.fee_yen:,}", 10, "right")
    c.line(50, y - 6, 545, y - 6)
    c.showPage()
    c.save()
    return buf.getvalue()
