"""Roles (役割) and the permission table, enforced in app.services (not only in the UI).

A service call without the permission raises PermissionDenied, whatever the UI shows. The table
itself lives in app.domain.roles: the server reads it too (it may import app.domain only).
"""

from __future__ import annotations

from collections.abc import Iterable

from app.domain.errors import DomainError
from app.domain.roles import (  # the table lives in the domain: the server reads it too
    ROLE_LABELS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    permissions_of,
)

__all__ = [
    "ROLE_LABELS",
    "ROLE_PERMISSIONS",
    "Permission",
    "PermissionDenied",
    "Role",
    "has_permission",
    "permissions_of",
    "require_permission",
]


class PermissionDenied(DomainError):
    def __init__(self, permission: Permission) -> None:
        super().__init__(
            f"この操作を行う権限がありません({permission.value})。監督者に確認してください。"
        )
        self.permission = permission


def has_permission(roles: Iterable[str], permission: Permission) -> bool:
    return permission in permissions_of(roles)


def require_permission(roles: Iterable[str], permission: Permission) -> None:
    if not has_permission(roles, permission):
        raise PermissionDenied(permission)
