"""端末の設定: one small page class per topic with load()/save() (the Picard pattern), kept in
`settings.json` beside the cache and written atomically. Nothing personal is stored here."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.fileio import atomic_write_text
from ui.background import run_in_background
from ui.print_job import available_printers

DEFAULT_PRINTER = ""  # the system's default printer


class Settings:
    """The terminal's local settings file (settings.json)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, Any] = {}

    @classmethod
    def beside(cls, cache_path: str | Path) -> Settings:
        settings = cls(Path(cache_path).parent / "settings.json")
        settings.read()
        return settings

    def read(self) -> None:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            data = {}
        except ValueError:
            data = {}  # a damaged file falls back to defaults; saving rewrites it whole
        self.values = data if isinstance(data, dict) else {}

    def write(self) -> None:
        atomic_write_text(self.path, json.dumps(self.values, ensure_ascii=False, indent=2))

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value


class SettingsPage(QWidget):
    """A tab of the settings dialog: `load(settings)` fills the widgets, `save(settings)` reads
    them back. Each page knows only its own keys."""

    TITLE = ""


class PrinterPage(SettingsPage):
    """証明書を印刷するプリンター. The installed printers are read in the background (it can
    take seconds on Windows); a configured printer that is not among them is marked."""

    TITLE = "プリンター"
    MISSING = "(見つかりません)"

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.printer = QComboBox(objectName="printerChoice")
        self.printer.addItem("既定のプリンター", DEFAULT_PRINTER)
        self.listed: list[str] | None = None
        form = QFormLayout(self)
        form.addRow("証明書のプリンター(&P)", self.printer)
        note = QLabel(
            "住民票の写しと日計表は、印刷のたびに選べるプリンターのうち、はじめにこのプリンターが"
            "選ばれています。"
        )
        note.setWordWrap(True)
        form.addRow(note)
        run_in_background(self, available_printers, self._listed, lambda _e: self._listed([]))

    def _listed(self, names: list[str]) -> None:
        self.listed = list(names)
        for name in names:
            if self.printer.findData(name) < 0:
                self.printer.addItem(name, name)
        for i in range(1, self.printer.count()):
            name = self.printer.itemData(i)
            if name not in names and not self.printer.itemText(i).endswith(self.MISSING):
                self.printer.setItemText(i, f"{name}{self.MISSING}")

    def load(self, settings: Settings) -> None:
        wanted = settings.get("printer", DEFAULT_PRINTER)
        index = self.printer.findData(wanted)
        if index < 0:
            self.printer.addItem(wanted, wanted)
            index = self.printer.count() - 1
            if self.listed is not None:
                self._listed(self.listed)
        self.printer.setCurrentIndex(index)

    def save(self, settings: Settings) -> None:
        settings.set("printer", self.printer.currentData())


PAGES: tuple[type[SettingsPage], ...] = (PrinterPage,)


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("端末の設定")
        self.settings = settings
        self.pages = [page() for page in PAGES]
        tabs = QTabWidget()
        for page in self.pages:
            page.load(settings)
            tabs.addTab(page, page.TITLE)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Save).setText("保存")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(tabs)
        layout.addWidget(buttons)

    def save(self) -> None:
        for page in self.pages:
            page.save(self.settings)
        self.settings.write()
        self.accept()
