"""PDF preview (QtPdf) for certificates and the 日計表; printing is ui/print_job.py.

The PDF bytes come from printing/ (reportlab); Qt only shows and prints them, so what is
previewed is exactly what is printed.
"""

from __future__ import annotations

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView
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
