"""The raster path of ui.print_job (what a Windows printer gets), into a PDF file: every page at
the requested resolution, drawn in bands, run off the GUI thread; errors name the printer."""

from __future__ import annotations

import re
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

import printing
from printing.dispatch import PrintError
from printing.fonts import Fonts
from tests.printing import households as H
from tests.printing.conftest import fonts, need_tool  # noqa: F401 - fixture
from tests.printing.test_certificate_pdf import SEAL, make_doc
from ui.background import run_in_background
from ui.print_job import BAND_ROWS, print_document


def _pdf() -> bytes:
    return printing.render_certificate(
        make_doc(H.household(5)), sample=False, seal_png=SEAL, sign=lambda b: b"s"
    )


def test_raster_at_the_printers_resolution_in_bands(
    qtbot: Any,
    fonts: Fonts,  # noqa: F811
    tmp_path: Path,
) -> None:
    out = tmp_path / "raster.pdf"
    box: dict[str, Any] = {}

    def work() -> Any:
        box["thread"] = threading.current_thread()
        return print_document(_pdf(), printer=None, copies=2, output_file=str(out), dpi=600)

    parent = QWidget()
    qtbot.addWidget(parent)
    with qtbot.waitCallback(timeout=60_000) as done:
        run_in_background(parent, work, done)
    outcome = done.args[0]
    assert box["thread"] is not threading.main_thread()
    assert (outcome.pages, outcome.method, outcome.dpi) == (4, "raster", 600)  # 2 sheets x 2
    listing = subprocess.run(
        [need_tool("pdfimages", "poppler-utils"), "-list", str(out)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [line.split() for line in listing.splitlines()[2:] if line.strip()]
    assert rows and all(r[12] == "600" and r[13] == "600" for r in rows)  # x-ppi, y-ppi
    assert max(int(r[4]) for r in rows) <= BAND_ROWS  # no page-sized image
    info = subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True, check=True)
    assert re.search(r"^Pages:\s+4$", info.stdout, re.MULTILINE)


def test_a_missing_printer_is_named(qtbot: Any, fonts: Fonts) -> None:  # noqa: F811
    with pytest.raises(PrintError) as refused:
        print_document(_pdf(), printer="窓口プリンタ7", method="raster")
    assert "窓口プリンタ7" in refused.value.message
