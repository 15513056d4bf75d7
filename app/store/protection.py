"""The active 支援措置 of the register, for the certificate rules (app.domain.certificates
.protection): a few hundred households at most, found through the partial index
persons_support (schema v9)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from app.domain.records import Household

from .base import CacheBase


class ProtectionMixin(CacheBase):
    if TYPE_CHECKING:  # ResidentsMixin's, beside this one in Cache

        def household(self, household_id: str) -> Household: ...

    def households_with_support(self, today: date) -> list[Household]:
        """Every household with a member under a 支援措置 still in force on `today`."""
        rows = self._query(
            "SELECT DISTINCT household_id FROM persons"
            " WHERE support_until IS NOT NULL AND support_until >= ?",
            (today.isoformat(),),
        )
        return [self.household(r[0]) for r in rows]
