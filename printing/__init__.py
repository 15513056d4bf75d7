"""reportlab printing of 住民票の写し and the 日計表. Imports app.domain only (DESIGN.md §2).

Public API:
- `render_certificate(document, *, sample, sign=None) -> bytes` (PDF)
- `render_daily_report(rows, day, *, office="", terminal_no="") -> bytes` (PDF)
- `preload_fonts()` — start loading IPAmj明朝 on a worker thread at start.
"""

from __future__ import annotations

from printing.daily_report import DailyRow, render_daily_report
from printing.fonts import FontNotFound, get_fonts
from printing.fonts import preload_in_background as preload_fonts
from printing.forms import render_certificate

__all__ = [
    "DailyRow",
    "FontNotFound",
    "get_fonts",
    "preload_fonts",
    "render_certificate",
    "render_daily_report",
]
