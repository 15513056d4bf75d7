"""Madoguchi client core: pure Python, never imports Qt (DESIGN.md §2)."""

__version__ = "0.1.0"
