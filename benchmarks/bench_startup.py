"""Start to login window (DESIGN.md §10: ≤ 1.5 s; baseline: bare QApplication + empty window).

Each measurement is a fresh process (imports are the cost): the time from interpreter start to
the first shown frame of the login dialog, against the same for an empty QWidget, in the same
run. Offscreen Qt unless --platform is given.

    uv run python benchmarks/bench_startup.py [--runs 5] [--platform offscreen]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BARE = """
import time, sys
from PySide6.QtWidgets import QApplication, QWidget
from PySide6.QtCore import QTimer
app = QApplication(sys.argv)
w = QWidget(); w.show()
QTimer.singleShot(0, lambda: (print(time.time()), app.quit()))
app.exec()
"""

# The real start-up path of `madoguchi` (cli.gui.run_gui) on an enrolled terminal's folder:
# timed to the first event-loop turn with the login dialog visible.
PRODUCT = """
import time, sys
import cli.gui
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QDialog

def shown():
    if any(isinstance(w, QDialog) and w.isVisible() for w in QApplication.topLevelWidgets()):
        print(time.time())
        QApplication.instance().quit()
    else:
        QTimer.singleShot(1, shown)

QTimer.singleShot(0, shown)
sys.exit(cli.gui.run_gui(sys.argv[1]))
"""


def _fake_enrolled_terminal(data_dir: Path) -> None:
    """The files that make a folder an enrolled terminal (no login happens in this benchmark)."""
    config = {
        "install_id": "bench",
        "terminal_no": "0001",
        "server_url": "https://127.0.0.1:1",
        "municipality_code": "012084",
        "municipality_name": "北見市",
    }
    (data_dir / "terminal.json").write_text(json.dumps(config), encoding="utf-8")
    (data_dir / "terminal.pem").write_text("", encoding="ascii")
    (data_dir / "terminal.key").write_text("", encoding="ascii")


def _measure(code: str, *args: str, platform: str) -> float:
    env = dict(os.environ, QT_QPA_PLATFORM=platform)
    start = time.time()
    out = (
        subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env=env,
        )
        .stdout.strip()
        .splitlines()
    )
    return float(out[-1]) - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--platform", default="offscreen")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        _fake_enrolled_terminal(Path(data_dir))
        _measure(BARE, platform=args.platform)  # warm the OS file cache for both
        _measure(PRODUCT, data_dir, platform=args.platform)
        bare = [_measure(BARE, platform=args.platform) for _ in range(args.runs)]
        product = [_measure(PRODUCT, data_dir, platform=args.platform) for _ in range(args.runs)]
    b, p = statistics.median(bare), statistics.median(product)
    print(f"bare QApplication + empty window: median {b * 1000:.0f} ms")
    print(f"start to login window:            median {p * 1000:.0f} ms (budget 1500 ms)")
    print(f"ratio to baseline: {p / b:.2f}; budget {'met' if p <= 1.5 else 'MISSED'}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average during the run: {load:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
