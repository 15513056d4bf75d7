"""日計表: the day's totals as a PDF — shown, printed on a chosen printer, saved as a file.

A dialog: it fits the screen and Esc closes it. Printing and saving run in the background
through `print_report(pdf, printer) -> pages` and `save_report(pdf, path)`, which also record
the output in the audit trail (cli/gui.py wires them).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from PySide6.QtCore import QSize, Signal
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.background import run_in_background, user_message
from ui.fkeys import bind_fkey
from ui.pdf_preview import PdfPreview
from ui.printer_choice import PrinterChoice
from ui.screen import fit_to_screen

PrintReport = Callable[[bytes, str | None], int]
SaveReport = Callable[[bytes, str], None]


class DailyReportWindow(QDialog):
    printed = Signal(int)
    saved = Signal(str)

    def __init__(
        self,
        pdf: bytes,
        day: date,
        *,
        print_report: PrintReport | None = None,
        save_report: SaveReport | None = None,
        printer: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("dailyReportWindow")
        self.setWindowTitle(f"日計表({day:%Y/%m/%d})")
        self.pdf = pdf
        self.day = day
        self._print = print_report
        self._save = save_report
        self.preview = PdfPreview(self)
        self.preview.show_pdf(pdf)
        self.message = QLabel("", objectName="dailyReportMessage")
        self.message.setWordWrap(True)
        self.printer_choice = PrinterChoice(printer, self)
        self.print_button = QPushButton("印刷", objectName="dailyReportPrint")
        self.save_button = QPushButton("PDFに保存…(&S)", objectName="dailyReportSave")
        self.close_button = QPushButton("閉じる", objectName="dailyReportClose")
        for b in (self.print_button, self.save_button, self.close_button):
            b.setAutoDefault(False)
        self.print_button.setEnabled(print_report is not None)
        self.save_button.setEnabled(save_report is not None)
        self.print_button.clicked.connect(self.print_now)
        self.save_button.clicked.connect(self.ask_save)
        self.close_button.clicked.connect(self.reject)
        bind_fkey(self.print_button, 4, self)
        bind_fkey(self.close_button, 12, self)
        printer_label = QLabel("プリンター(&L)")
        printer_label.setBuddy(self.printer_choice)
        row = QHBoxLayout()
        row.addWidget(printer_label)
        row.addWidget(self.printer_choice, 1)
        row.addWidget(self.print_button)
        row.addWidget(self.save_button)
        row.addWidget(self.close_button)
        keys = QLabel("F4 印刷 ・ F12 または Esc 閉じる", objectName="dailyReportKeys")
        keys.setStyleSheet("color: #555;")
        layout = QVBoxLayout(self)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.message)
        layout.addLayout(row)
        layout.addWidget(keys)
        fit_to_screen(self, QSize(820, 1000))

    def _busy(self, busy: bool) -> None:
        self.print_button.setEnabled(not busy and self._print is not None)
        self.save_button.setEnabled(not busy and self._save is not None)

    def _failed(self, exc: BaseException) -> None:
        self._busy(False)
        self.message.setText(user_message(exc))

    def print_now(self) -> None:
        print_report = self._print
        if print_report is None:
            return
        pdf, printer = self.pdf, self.printer_choice.printer()
        where = f"「{printer}」" if printer else "既定のプリンター"
        self._busy(True)
        self.message.setText(f"{where}に印刷しています…")

        def done(pages: int) -> None:
            self._busy(False)
            self.message.setText(f"{where}に{pages}ページを印刷しました。")
            self.printed.emit(pages)

        run_in_background(self, lambda: print_report(pdf, printer), done, self._failed)

    def ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "日計表をPDFに保存", f"日計表_{self.day:%Y%m%d}.pdf", "PDF (*.pdf)"
        )
        if path:
            self.save_to(path)

    def save_to(self, path: str) -> None:
        save_report = self._save
        if save_report is None:
            return
        pdf = self.pdf
        self._busy(True)
        self.message.setText("保存しています…")

        def done(_r: object) -> None:
            self._busy(False)
            self.message.setText(f"保存しました: {path}")
            self.saved.emit(path)

        run_in_background(self, lambda: save_report(pdf, path), done, self._failed)
