"""reportlab's QR encoder without reportlab.graphics.barcode's package import.

`reportlab.graphics.barcode/__init__` imports every barcode widget and platypus (~0.4 s at
start); the encoder module itself needs only the standard library. Load the file on its own
when it is there, and fall back to the normal import (e.g. in a frozen build without sources).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _load() -> ModuleType:
    name = "_madoguchi_qrencoder"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec("reportlab")
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "graphics" / "barcode" / "qrencoder.py"
        if path.is_file():
            file_spec = importlib.util.spec_from_file_location(name, path)
            if file_spec is not None and file_spec.loader is not None:
                module = importlib.util.module_from_spec(file_spec)
                sys.modules[name] = module
                file_spec.loader.exec_module(module)
                return module
    from reportlab.graphics.barcode import qrencoder as module  # pragma: no cover

    return module  # pragma: no cover


def _cache_generator_polynomials(module: ModuleType) -> None:
    """The Reed-Solomon generator polynomial depends only on the number of EC codewords, yet
    the encoder rebuilds it for every block of every code (~1/3 of a QR's cost)."""
    util = module.QRUtil
    if getattr(util, "_madoguchi_cached", False):
        return
    util.getErrorCorrectPolynomial = staticmethod(
        functools.lru_cache(maxsize=64)(util.getErrorCorrectPolynomial)
    )
    util._madoguchi_cached = True


qrencoder = _load()
_cache_generator_polynomials(qrencoder)
