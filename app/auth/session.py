"""The operator's session on this terminal: who, with which roles, since when, online or not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from app.auth.permissions import Permission, has_permission, permissions_of, require_permission
from app.sync.protocol import OperatorProfile


@dataclass(frozen=True)
class Session:
    profile: OperatorProfile
    terminal_no: str
    logged_in_at: datetime
    online: bool
    # The server's session token (online logins); kept out of repr so it never reaches a log.
    token: str | None = field(default=None, repr=False)

    @property
    def operator_id(self) -> str:
        return self.profile.operator_id

    @property
    def display_name(self) -> str:
        return self.profile.display_name

    @property
    def roles(self) -> tuple[str, ...]:
        return self.profile.roles

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    def can(self, permission: Permission) -> bool:
        return has_permission(self.roles, permission)

    def require(self, permission: Permission) -> None:
        """Raise PermissionDenied unless the session's roles grant `permission`."""
        require_permission(self.roles, permission)
