"""Shared configuration. Components that the tests start themselves live in tests/support/."""

from __future__ import annotations

import os

# Qt runs offscreen in every test; set before anything imports Qt.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# One Secret Service (D-Bus + gnome-keyring) for the whole run: a session fixture imported into
# several modules is a separate fixture per module, and a second daemon started while the first
# runs failed to come up ("InitError") now and then.
from tests.support.keyring_session import secret_service  # noqa: F401 - the fixture
