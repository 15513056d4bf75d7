"""reportlab printing of 住民票の写し and the 日計表. Imports app.domain only (DESIGN.md §2).

Public API:
- `render_certificate(document, *, sample, sign=None, seal_png=None) -> bytes` (PDF; an issued
  certificate needs `sign` and the verified 公印 `seal_png`)
- `render_daily_report(rows, day, *, office="", terminal_no="") -> bytes` (PDF)
- `render_notification_form(form) -> bytes` (the 住民異動届 for the signature) and
  `render_move_out_certificate(sheet, *, sample, municipality_name) -> bytes` (転出証明書)
- `preload_fonts()` — start loading IPAmj明朝 on a worker thread at start.
"""

from __future__ import annotations

import contextlib
import threading

from printing.daily_report import DailyRow, render_daily_report
from printing.fonts import FontNotFound, get_fonts
from printing.forms import demo_seal_png, preload, render_certificate
from printing.notification_forms import render_move_out_certificate, render_notification_form


def preload_fonts() -> threading.Thread:
    """Load IPAmj明朝 on a worker thread; call at start, off the GUI thread.

    A missing font is not raised here: the first render reports it where a clerk sees it.
    """

    def _run() -> None:
        with contextlib.suppress(FontNotFound):
            preload()

    thread = threading.Thread(target=_run, name="print-preload", daemon=True)
    thread.start()
    return thread


__all__ = [
    "DailyRow",
    "FontNotFound",
    "demo_seal_png",
    "get_fonts",
    "preload",
    "preload_fonts",
    "render_certificate",
    "render_daily_report",
    "render_move_out_certificate",
    "render_notification_form",
]
