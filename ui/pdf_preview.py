"""PDF preview (QtPdf) and printing through QPrinter, for certificates and the 日計表.

The PDF bytes come from printing/ (reportlab); Qt only shows and prints them, so what is
previewed is exactly what is printed.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, QSize
from PySide6.QtGui import QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
from PySide6.QtPrintSupport import QPrinter, QPrinterInfo
from PySide6.QtWidgets import QVBoxLayout, QWidget


class PdfDocumentHolder:
    """Keeps the QBuffer alive as long as the QPdfDocument reads from it."""

    def __init__(self, pdf: bytes, parent=None) -> None:
        self.data = QByteArray(pdf)
        self.buffer = QBuffer(parent)
        self.buffer.setData(self.data)
        self.buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self.document = QPdfDocument(parent)
        self.document.load(self.buffer)

    @property
    def ok(self) -> bool:
        return self.document.status() == QPdfDocument.Status.Ready

    @property
    def page_count(self) -> int:
        return self.document.pageCount()


class PdfPreview(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = QPdfView(self)
        self.view.setObjectName("pdfView")
        self.view.setPageMode(QPdfView.PageMode.MultiPage)
        self.view.setZoomMode(QPdfView.ZoomMode.FitToWidth)
        self.holder: PdfDocumentHolder | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)

    def show_pdf(self, pdf: bytes) -> int:
        """Show `pdf`; returns its page count (0 if Qt could not read it)."""
        self.holder = PdfDocumentHolder(pdf, self)
        self.view.setDocument(self.holder.document)
        return self.holder.page_count if self.holder.ok else 0

    def clear(self) -> None:
        self.view.setDocument(None)
        self.holder = None


def available_printers() -> list[str]:
    return [p.printerName() for p in QPrinterInfo.availablePrinters()]


def make_printer(printer_name: str | None = None, pdf_path: str | None = None) -> QPrinter:
    """A QPrinter for the configured printer, or a PDF file (tests, 'PDFに保存')."""
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    if pdf_path is not None:
        printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
        printer.setOutputFileName(pdf_path)
    elif printer_name:
        printer.setPrinterName(printer_name)
    printer.setFullPage(True)
    # 300 dpi: sharp for 明朝 at 9 pt and the 地紋, and a page stays a few MB.
    printer.setResolution(300)
    return printer


class PrintError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def print_pdf(pdf: bytes, printer: QPrinter, copies: int = 1) -> int:
    """Render every page of `pdf` onto `printer` (GUI thread); returns pages printed."""
    holder = PdfDocumentHolder(pdf)
    if not holder.ok:
        raise PrintError("印刷するPDFを読み込めませんでした。")
    painter = QPainter()
    if not painter.begin(printer):
        raise PrintError(
            f"プリンター「{printer.printerName() or printer.outputFileName()}」を使えません。"
            "設定の「プリンター」を確認してください。"
        )
    pages = 0
    try:
        dpi = printer.resolution()
        for _ in range(copies):
            for index in range(holder.page_count):
                if pages:
                    printer.newPage()
                size_pt = holder.document.pagePointSize(index)
                px = QSize(round(size_pt.width() / 72 * dpi), round(size_pt.height() / 72 * dpi))
                image = holder.document.render(index, px)
                target = QRectF(QPointF(0, 0), printer.pageRect(QPrinter.Unit.DevicePixel).size())
                painter.drawImage(target, image)
                pages += 1
    finally:
        painter.end()
    return pages
