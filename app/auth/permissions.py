"""Roles (役割) and the permission table, enforced in app.services (not only in the UI).

A service call without the permission raises PermissionDenied, whatever the UI shows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import ParamSpec, TypeVar

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
    "requires",
]

P = ParamSpec("P")
R = TypeVar("R")


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


def requires(permission: Permission) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator for service functions and methods taking a session (an argument with `.roles`).

    The check happens inside the service, so a call without the permission raises whatever the
    UI shows or hides.
    """

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            session = kwargs.get("session") or next((a for a in args if hasattr(a, "roles")), None)
            roles = getattr(session, "roles", None)
            if roles is None:
                raise PermissionDenied(permission)
            require_permission(roles, permission)
            return fn(*args, **kwargs)

        return wrapper

    return decorate
