"""The printer for this job: the terminal's configured printer preselected, any other one
choosable. The list is read in the background (enumerating printers can take seconds on
Windows)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QComboBox, QSizePolicy, QWidget

from ui.background import run_in_background
from ui.print_job import available_printers

DEFAULT_LABEL = "既定のプリンター"


class PrinterChoice(QComboBox):
    def __init__(
        self,
        preferred: str = "",
        parent: QWidget | None = None,
        *,
        runner: Callable[..., None] = run_in_background,
        list_printers: Callable[[], list[str]] = available_printers,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("printerChoice")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.setMinimumContentsLength(12)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.addItem(DEFAULT_LABEL, "")
        if preferred:
            self.addItem(preferred, preferred)
            self.setCurrentIndex(1)
        runner(self, list_printers, self._fill, lambda _e: None)

    def _fill(self, names: list[str]) -> None:
        for name in names:
            if self.findData(name) < 0:
                self.addItem(name, name)

    def printer(self) -> str | None:
        """The chosen printer's name, or None for the system's default printer."""
        return self.currentData() or None
