"""Printing to a CUPS PDF queue (cups-pdf) on a private cupsd started by the test.

Paths: our PDF sent with `lp` (what any print dialog does), and the product's own
ui.print_job in a fresh process pointed at the private server — "auto" (on CUPS: the PDF itself,
vector) and "raster" (what a Windows printer gets: QtPdf renders each page onto a QPrinter at the
printer's resolution). Either way the queue's output must have the same pages as what we
rendered; the vector path keeps the マイクロ文字 as text, and errors name the printer.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageFilter

import printing
from app.domain.certificates import Item
from printing.fonts import Fonts
from tests.printing import households as H
from tests.printing.conftest import need_tool
from tests.printing.test_certificate_pdf import ISSUANCE, SEAL, make_doc
from tests.support import require
from tests.support.poll import poll_until

ROOT = Path(__file__).resolve().parents[2]
PPD = Path("/usr/share/ppd/cups-pdf/CUPS-PDF_opt.ppd")
BACKEND = Path("/usr/lib/cups/backend/cups-pdf")


@dataclass
class Cups:
    socket: Path
    queue: str
    out_dir: Path  # cups-pdf writes ${HOME}/PDF of the job's user (/etc/cups/cups-pdf.conf)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CUPS_SERVER": str(self.socket)}


def _config(d: Path) -> tuple[Path, Path]:
    for sub in ("spool", "cache", "state", "log"):
        (d / sub).mkdir()
    (d / "tmp").mkdir()
    (d / "tmp").chmod(0o1777)  # the filters (user lp) write there; mkdir's mode meets umask
    files = d / "cups-files.conf"
    files.write_text(
        f"ServerRoot {d}\nRequestRoot {d}/spool\nTempDir {d}/tmp\nCacheDir {d}/cache\n"
        f"StateDir {d}/state\nServerBin /usr/lib/cups\nDataDir /usr/share/cups\n"
        f"ErrorLog {d}/log/error_log\nAccessLog {d}/log/access_log\n"
        f"PageLog {d}/log/page_log\nSystemGroup root\nPrintcap {d}/printcap\n"
    )
    conf = d / "cupsd.conf"
    conf.write_text(
        f"LogLevel info\nListen {d}/cups.sock\nBrowsing No\nWebInterface No\n"
        "DefaultAuthType None\n"
        "<Location />\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Location /admin>\n  Order allow,deny\n  Allow all\n</Location>\n"
        "<Policy default>\n  <Limit All>\n    Order deny,allow\n  </Limit>\n</Policy>\n"
    )
    return conf, files


@pytest.fixture(scope="module")
def cups() -> Iterator[Cups]:
    cupsd = shutil.which("cupsd") or "/usr/sbin/cupsd"
    lpadmin = shutil.which("lpadmin") or "/usr/sbin/lpadmin"
    require(Path(cupsd).exists() and Path(lpadmin).exists(), "cupsd missing (package cups)")
    require(BACKEND.exists() and PPD.exists(), "cups-pdf missing (package cups-pdf)")
    # cupsd runs the cups-pdf backend (mode 0700) only as root.
    require(os.geteuid() == 0, "the cups-pdf backend needs cupsd to run as root")
    need_tool("gs", "ghostscript")
    # Not under pytest's 0700 tmp: the filters run as the unprivileged user lp and must reach
    # the spool directory.
    d = Path(tempfile.mkdtemp(prefix="madoguchi-cups-"))
    d.chmod(0o755)
    conf, files = _config(d)
    proc = subprocess.Popen(
        [cupsd, "-f", "-c", str(conf), "-s", str(files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        socket = d / "cups.sock"

        def listening() -> bool:
            assert proc.poll() is None, "cupsd exited"
            return socket.exists()

        poll_until(listening, timeout=20, what="cupsd did not start")
        server = Cups(socket, f"MadoguchiTest{os.getpid()}", Path(pwd.getpwuid(0).pw_dir) / "PDF")
        subprocess.run(
            [lpadmin, "-p", server.queue, "-v", "cups-pdf:/", "-P", str(PPD), "-E"],
            env=server.env,
            check=True,
            capture_output=True,
        )
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(d, ignore_errors=True)


def _wait_output(cups: Cups, title: str, timeout: float = 300) -> Path:
    """The PDF the queue wrote for `title`, once the job has left the queue. A queue that stops
    with a failure ends the wait at once; the deadline only bounds a hung CUPS."""

    def lpstat(*args: str) -> str:
        return subprocess.run(
            ["lpstat", *args], env=cups.env, capture_output=True, text=True
        ).stdout

    def printed() -> Path | None:
        hits = sorted(cups.out_dir.glob(f"{title}*.pdf")) if cups.out_dir.is_dir() else []
        if hits and not lpstat("-o", cups.queue).strip():
            return hits[0]
        state = lpstat("-p", cups.queue)
        if "failed" in state.lower():
            raise AssertionError(f"the CUPS queue failed for {title}: {state}")
        return None

    try:
        return poll_until(printed, timeout=timeout, interval=0.5, what=f"CUPS output of {title}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {lpstat('-p', cups.queue)}") from exc


def _raster(pdf: Path, out: Path) -> list[Image.Image]:
    subprocess.run(
        [need_tool("pdftoppm", "poppler-utils"), "-gray", "-r", "72", str(pdf), str(out)],
        check=True,
    )
    return [Image.open(p) for p in sorted(out.parent.glob(f"{out.name}-*.pgm"))]


def _ink(img: Image.Image) -> Image.Image:
    """The dark content (text, rules, QR) cropped and normalised: a print path may shrink
    the page to the printer's imageable area, which moves everything a little."""
    # Below the pale 地紋 (~215) but above antialiased hairlines, which each path greys
    # differently.
    mask = img.point(lambda v: 255 if v < 200 else 0)
    box = mask.getbbox()
    assert box, "blank page"
    return (
        mask.crop(box)
        .resize((400, 560), Image.Resampling.BILINEAR)
        .point(lambda v: 255 if v > 96 else 0)
    )


def _uncovered(a: Image.Image, b: Image.Image) -> float:
    """Share of a's ink with no ink of b within a pixel or two (tolerates resampling)."""
    near_b = b.filter(ImageFilter.MaxFilter(5))
    outside = ImageChops.subtract(a, near_b)
    return outside.histogram()[255] / max(1, a.histogram()[255])


def _same_pages(ours: Path, printed: Path, tmp_path: Path) -> None:
    a = [_ink(x) for x in _raster(ours, tmp_path / "ours")]
    b = [_ink(x) for x in _raster(printed, tmp_path / "printed")]
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert _uncovered(x, y) < 0.05 and _uncovered(y, x) < 0.05, (
            _uncovered(x, y),
            _uncovered(y, x),
        )
    # And a different page does not pass for the same one.
    if len(a) > 1:
        assert max(_uncovered(a[0], b[1]), _uncovered(b[1], a[0])) > 0.15


def _certificate(tmp_path: Path, n: int) -> Path:
    h = H.with_member(H.household(n), 1, name=f"{H.KATSURA_IVS}城　一子")
    path = tmp_path / "certificate.pdf"
    # Issued form (no 見本 across the page, which would dominate the comparison); with the
    # 世帯主 and 続柄, so that text, not the 公印's grey, is most of the last sheet's ink.
    doc = make_doc(h, items={Item.HEAD_AND_RELATIONSHIP})
    path.write_bytes(
        printing.render_certificate(doc, sample=False, seal_png=SEAL, sign=lambda b: b"s")
    )
    return path


def test_lp_to_cups_pdf_queue(fonts: Fonts, cups: Cups, tmp_path: Path) -> None:
    ours = _certificate(tmp_path, 5)  # two sheets
    title = f"madoguchi-lp-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        ["lp", "-d", cups.queue, "-t", title, str(ours)],
        env=cups.env,
        check=True,
        capture_output=True,
    )
    printed = _wait_output(cups, title)
    try:
        _same_pages(ours, printed, tmp_path)
    finally:
        printed.unlink()


_QT_PRINT = """
import json, sys
from PySide6.QtWidgets import QApplication
app = QApplication([])
from ui.print_job import print_document, printer_resolution
method, queue, title, path = sys.argv[1:5]
try:
    o = print_document(open(path, "rb").read(), printer=queue, title=title, method=method)
except Exception as exc:
    print(json.dumps({"error": getattr(exc, "message", repr(exc))}))
else:
    print(json.dumps({"pages": o.pages, "method": o.method, "dpi": o.dpi,
                      "reported": printer_resolution(queue)}))
"""


def _product_print(cups: Cups, method: str, queue: str, title: str, pdf: Path) -> dict:
    env = {**cups.env, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", _QT_PRINT, method, queue, title, str(pdf)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _microtext(pdf: Path) -> list[str]:
    text = subprocess.run(
        [need_tool("pdftotext", "poppler-utils"), "-raw", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in text.splitlines() if "MADOGUCHI" in line]


def test_product_sends_the_pdf_itself_to_cups(fonts: Fonts, cups: Cups, tmp_path: Path) -> None:
    ours = _certificate(tmp_path, 5)  # two sheets
    title = f"madoguchi-auto-{uuid.uuid4().hex[:8]}"
    result = _product_print(cups, "auto", cups.queue, title, ours)
    assert result == {**result, "method": "pdf", "pages": 2}
    printed = _wait_output(cups, title)
    try:
        _same_pages(ours, printed, tmp_path)
        # Vector all the way: the マイクロ文字 (1.6 pt) is still text in what the queue printed
        # (its ASCII part: ghostscript drops the kana's text mapping, not the glyphs).
        line = f"{ISSUANCE} 1/2 MADOGUCHI"
        assert line in _microtext(ours)[0] and line in _microtext(printed)[0]
    finally:
        printed.unlink()


def test_raster_path_at_the_printers_resolution(fonts: Fonts, cups: Cups, tmp_path: Path) -> None:
    ours = _certificate(tmp_path, 2)
    title = f"madoguchi-raster-{uuid.uuid4().hex[:8]}"
    result = _product_print(cups, "raster", cups.queue, title, ours)
    assert result.get("method") == "raster", result
    assert result["pages"] == 1
    # The printer's own resolution as its driver reports it (cups-pdf's PPD), not a fixed 300.
    assert result["dpi"] == result["reported"]
    printed = _wait_output(cups, title)
    try:
        _same_pages(ours, printed, tmp_path)
        assert not _microtext(printed)  # an image now: legible only as far as the dots go
    finally:
        printed.unlink()


@pytest.mark.parametrize("method", ["auto", "raster"])
def test_errors_name_the_printer(fonts: Fonts, cups: Cups, tmp_path: Path, method: str) -> None:
    ours = _certificate(tmp_path, 2)
    result = _product_print(cups, method, "窓口プリンタ9", "madoguchi-missing", ours)
    assert "窓口プリンタ9" in result.get("error", ""), result
