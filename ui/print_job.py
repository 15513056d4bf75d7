"""One print job, run off the GUI thread (ui.background): vector where the printer takes PDF,
raster at the printer's own resolution elsewhere.

- CUPS (Linux, macOS): the PDF itself goes to the queue (printing.dispatch.send_pdf); the
  security layers stay vectors until the printer's driver.
- Windows (and `method="raster"`): QtPdf renders each page onto a QPrinter at the printer's
  resolution (`printer_resolution`: the device's own on Windows; 300 dpi only when a driver
  reports nothing), in bands so that a page at 600 or 1200 dpi never needs a page-sized image.

The raster work runs in a child process of the program (`madoguchi _print-job`, the PDF on its
standard input, never in a file): QtPdf's rendering holds Python's lock while it draws, which
stalled the GUI by up to 190 ms a band even from a worker thread, and a printer driver that
crashes takes only the child with it. Should the child not start, the job runs in this process
(from the worker thread) instead.

Every error names the printer. Printing to a file (`output_file`) is the raster path into a PDF
file: tests, and what a Windows printer receives, checked on Linux.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import asdict, dataclass

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPoint, QRect, QSize, QSizeF, Qt
from PySide6.QtGui import QImage, QPageLayout, QPageSize, QPainter
from PySide6.QtPdf import QPdfDocument, QPdfDocumentRenderOptions
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo

from printing.dispatch import PrintError, cups_available, printer_label, send_pdf

log = logging.getLogger(__name__)

CHILD_COMMAND = "_print-job"
CHILD_TIMEOUT_S = 600
BAND_ROWS = 256
FALLBACK_DPI = 300
MAX_DPI = 1200


@dataclass(frozen=True)
class PrintOutcome:
    pages: int  # sheets printed, copies included
    printer: str  # the name, or "" for the default printer
    method: str  # "pdf" (the file itself) or "raster"
    dpi: int | None = None  # raster resolution


def available_printers() -> list[str]:
    """Names of the installed printers (may take a moment on Windows: call it off the GUI)."""
    return [p.printerName() for p in QPrinterInfo.availablePrinters()]


def default_printer() -> str:
    return QPrinterInfo.defaultPrinterName()


def printer_resolution(printer: str | None) -> int:
    """The printer's resolution: on Windows the device's own (what QPrinter's HighResolution
    mode reads from the driver), elsewhere the best its driver lists; capped at 1200 dpi."""
    if sys.platform == "win32":
        probe = QPrinter(QPrinter.PrinterMode.HighResolution)
        if printer:
            probe.setPrinterName(printer)
        if probe.resolution() > 0:
            return min(probe.resolution(), MAX_DPI)
    info = QPrinterInfo.printerInfo(printer) if printer else QPrinterInfo.defaultPrinter()
    reported = [r for r in (info.supportedResolutions() if not info.isNull() else []) if r > 0]
    if reported:
        return min(max(reported), MAX_DPI)
    return FALLBACK_DPI


class _Document:
    """A QPdfDocument with its buffer, made and used in one (worker) thread."""

    def __init__(self, pdf: bytes) -> None:
        self.data = QByteArray(pdf)
        self.buffer = QBuffer()
        self.buffer.setData(self.data)
        self.buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document = QPdfDocument()
        self.document.load(self.buffer)
        if self.document.status() != QPdfDocument.Status.Ready:
            raise PrintError("印刷するPDFを読み込めませんでした。")

    @property
    def pages(self) -> int:
        return self.document.pageCount()


def _on_white(
    doc: _Document, index: int, band: QRect, options: QPdfDocumentRenderOptions
) -> QImage:
    """One band of a page, flattened onto white: an opaque RGB image is what a printer driver
    takes without blending (QtPdf renders onto transparent)."""
    rendered = doc.document.render(index, band.size(), options)
    flat = QImage(band.size(), QImage.Format.Format_RGB32)
    flat.fill(Qt.GlobalColor.white)
    p = QPainter(flat)
    p.drawImage(0, 0, rendered)
    p.end()
    return flat


def count_pages(pdf: bytes) -> int:
    return _Document(pdf).pages


def print_document(
    pdf: bytes,
    *,
    printer: str | None,
    copies: int = 1,
    title: str = "窓口",
    method: str = "auto",
    output_file: str | None = None,
    dpi: int | None = None,
    isolate: bool = True,
) -> PrintOutcome:
    """Print `pdf` (blocking: run it through ui.background). `method` is "auto", "pdf" or
    "raster"; "auto" sends the PDF where CUPS takes it, else rasterises — in a child process
    unless `isolate` is False."""
    if method == "auto":
        method = "pdf" if cups_available() and output_file is None else "raster"
    if method == "pdf":
        pages = _Document(pdf).pages
        send_pdf(pdf, printer, copies=copies, title=title)
        return PrintOutcome(pages * copies, printer or "", "pdf")
    job = {"printer": printer, "copies": copies, "title": title, "output_file": output_file}
    if isolate:
        try:
            return _in_child(pdf, {**job, "dpi": dpi})
        except OSError as exc:  # the child could not start: print from this process instead
            log.warning("print child not started: %s", type(exc).__name__)
    doc = _Document(pdf)
    resolution = dpi or (FALLBACK_DPI if output_file else printer_resolution(printer))
    pages = _raster(doc, printer, copies, title, resolution, output_file)
    return PrintOutcome(pages, printer or "", "raster", resolution)


def child_command() -> list[str]:
    """How this program starts itself as the print child (frozen build or source tree)."""
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_COMMAND]
    return [sys.executable, "-m", "cli.main", CHILD_COMMAND]


def _in_child(pdf: bytes, job: dict[str, object]) -> PrintOutcome:
    env = dict(os.environ)
    if sys.platform != "win32" and not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Windows: no console window flashes up for the child (the program is a console build).
    flags = getattr(subprocess, "CREATE_NO_WINDOW", 0) if sys.platform == "win32" else 0
    try:
        done = subprocess.run(
            [*child_command(), json.dumps(job, ensure_ascii=False)],
            input=pdf,
            capture_output=True,
            timeout=CHILD_TIMEOUT_S,
            env=env,
            check=False,
            creationflags=flags,
        )
    except subprocess.TimeoutExpired:
        raise PrintError(
            f"プリンター{printer_label(job['printer'])}への印刷が終わりません。"  # type: ignore[arg-type]
            "プリンターの状態を確認してください。"
        ) from None
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        answer = {}
    if "error" in answer:
        raise PrintError(str(answer["error"]))
    if done.returncode != 0 or "pages" not in answer:
        log.error("print child failed (exit %s)", done.returncode)
        raise PrintError(
            f"プリンター{printer_label(job['printer'])}への印刷が途中で止まりました"  # type: ignore[arg-type]
            f"(終了コード {done.returncode})。プリンターの状態を確認してください。"
        )
    return PrintOutcome(**answer)


def main(argv: list[str]) -> int:
    """The print child: one job (JSON in argv, the PDF on standard input), its outcome as JSON
    on standard output. Nothing personal is written anywhere."""
    from PySide6.QtGui import QGuiApplication

    job = json.loads(argv[0])
    source = sys.stdin.buffer if sys.stdin is not None else os.fdopen(0, "rb")
    sink = sys.stdout if sys.stdout is not None else os.fdopen(1, "w", encoding="utf-8")
    pdf = source.read()
    app = QGuiApplication.instance() or QGuiApplication(["madoguchi-print"])  # noqa: F841 - kept
    try:
        outcome = print_document(
            pdf,
            printer=job.get("printer"),
            copies=int(job.get("copies", 1)),
            title=str(job.get("title", "窓口")),
            method="raster",
            output_file=job.get("output_file"),
            dpi=job.get("dpi"),
            isolate=False,
        )
    except PrintError as exc:
        print(json.dumps({"error": exc.message}, ensure_ascii=False), file=sink, flush=True)
        return 1
    print(json.dumps(asdict(outcome), ensure_ascii=False), file=sink, flush=True)
    return 0


def _raster(
    doc: _Document,
    printer_name: str | None,
    copies: int,
    title: str,
    dpi: int,
    output_file: str | None,
) -> int:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    if output_file is not None:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(output_file)
    elif printer_name:
        printer.setPrinterName(printer_name)
        if printer.printerName() != printer_name:
            raise PrintError(f"プリンター{printer_label(printer_name)}が見つかりません。")
    printer.setDocName(title)
    printer.setFullPage(True)
    printer.setResolution(dpi)
    first = doc.document.pagePointSize(0)
    printer.setPageSize(QPageSize(QSizeF(first.width(), first.height()), QPageSize.Unit.Point))
    printer.setPageOrientation(QPageLayout.Orientation.Portrait)
    painter = QPainter()
    if not painter.begin(printer):
        name = printer_name or output_file
        raise PrintError(
            f"プリンター{printer_label(name)}を使えません。電源・用紙・接続を確認するか、"
            "別のプリンターを選んでください。"
        )
    printed = 0
    try:
        scale = printer.resolution() / 72
        for _ in range(copies):
            for index in range(doc.pages):
                if printed:
                    printer.newPage()
                size_pt = doc.document.pagePointSize(index)
                full = QSize(round(size_pt.width() * scale), round(size_pt.height() * scale))
                for top in range(0, full.height(), BAND_ROWS):
                    band = QRect(0, top, full.width(), min(BAND_ROWS, full.height() - top))
                    options = QPdfDocumentRenderOptions()
                    options.setScaledSize(full)
                    options.setScaledClipRect(band)
                    painter.drawImage(QPoint(0, top), _on_white(doc, index, band, options))
                printed += 1
    finally:
        painter.end()
    return printed
