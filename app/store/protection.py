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

    def protected_addresses(self, today: date) -> list[str]:
        """The 住所 (without 方書) of every household where a resident under a 支援措置 still in
        force on `today` is registered: what the session withholds on screen
        (app.domain.protected_address). Read through the partial index, without parsing."""
        rows = self._query(
            "SELECT DISTINCT h.address FROM persons p INDEXED BY persons_support"
            " JOIN households h ON h.household_id = p.household_id"
            " WHERE p.support_until IS NOT NULL AND p.support_until >= ?"
            " AND p.status = 'resident'",
            (today.isoformat(),),
        )
        return [r[0] for r in rows]
