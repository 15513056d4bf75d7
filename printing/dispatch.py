"""Sending our PDFs to a printer that takes PDF: a CUPS queue (Linux, macOS) gets the file itself
through `lp`, so text, the マイクロ文字 and the 地紋 reach the printer as vectors and the
printer's own driver rasterises them at its resolution. No Qt here (DESIGN.md §2).

Windows printers do not take PDF: ui/print_job.py rasterises there, at the printer's resolution.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from app.domain.errors import DomainError

DEFAULT_PRINTER_LABEL = "既定のプリンター"


class PrintError(DomainError):
    """A print that did not reach the printer; the message names the printer."""


def printer_label(printer: str | None) -> str:
    return f"「{printer}」" if printer else DEFAULT_PRINTER_LABEL


def cups_available() -> bool:
    """True where print jobs go through CUPS and `lp` can send the PDF itself."""
    return sys.platform != "win32" and shutil.which("lp") is not None


def send_pdf(
    pdf: bytes, printer: str | None, *, copies: int = 1, title: str = "", timeout: float = 60
) -> str:
    """Queue `pdf` on the CUPS `printer` (None: the default destination); returns the job id.

    Blocks for the spooling only (not for the paper): call it off the GUI thread. The job title
    carries no personal data (it shows in the queue and in the printer's log).
    """
    lp = shutil.which("lp")
    if lp is None:
        raise PrintError("印刷コマンド(lp)が見つかりません。システム管理者に連絡してください。")
    cmd = [lp, "-n", str(max(1, copies))]
    if title:
        cmd += ["-t", title]
    if printer:
        cmd += ["-d", printer]
    try:
        done = subprocess.run(cmd, input=pdf, capture_output=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PrintError(
            f"プリンター{printer_label(printer)}が応答しません。電源と接続を確認してください。"
        ) from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        why = f"({detail[-1]})" if detail else ""
        raise PrintError(
            f"プリンター{printer_label(printer)}に送れませんでした{why}。"
            "プリンターの名前と状態を確認してください。"
        )
    match = re.search(r"request id is (\S+)", done.stdout.decode("utf-8", "replace"))
    return match.group(1) if match else ""
