"""Shared configuration. Components that the tests start themselves live in tests/support/."""

from __future__ import annotations

import os

# Qt runs offscreen in every test; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
