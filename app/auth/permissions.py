"""Roles (役割) and the permission table, enforced in app.services (not only in the UI).

A service call without the permission raises PermissionDenied, whatever the UI shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from app.domain.errors import DomainError


class Role(StrEnum):
    CLERK = "clerk"  # 窓口職員
    ISSUER = "issuer"  # 交付担当
    SUPERVISOR = "supervisor"  # 監督者
    AUDITOR = "auditor"  # 監査者
    ADMIN = "admin"  # 管理者


ROLE_LABELS: dict[Role, str] = {
    Role.CLERK: "窓口職員",
    Role.ISSUER: "交付担当",
    Role.SUPERVISOR: "監督者",
    Role.AUDITOR: "監査者",
    Role.ADMIN: "管理者",
}


class Permission(StrEnum):
    SEARCH = "search"  # 検索
    VIEW_RECORD = "view_record"  # 住民票の閲覧
    REVEAL_MY_NUMBER = "reveal_my_number"  # 個人番号の表示(理由付き)
    ISSUE_CERTIFICATE = "issue_certificate"  # 住民票の写しの交付
    VOID_CERTIFICATE = "void_certificate"  # 交付の取消
    APPROVE = "approve"  # 監督者承認(支援措置、古いキャッシュ)
    CARD_READ = "card_read"  # カードの読み取り
    CARD_DESK = "card_desk"  # 交付・一時停止・廃止などの記録
    DAILY_REPORT = "daily_report"  # 日計表
    VIEW_AUDIT = "view_audit"  # 監査ログの閲覧
    EXPORT = "export"  # 媒体への出力
    ADMINISTER = "administer"  # 端末設定


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset({Permission.SEARCH, Permission.VIEW_RECORD, Permission.CARD_READ}),
    Role.ISSUER: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.REVEAL_MY_NUMBER,
            Permission.ISSUE_CERTIFICATE,
            Permission.CARD_READ,
            Permission.CARD_DESK,
            Permission.DAILY_REPORT,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.REVEAL_MY_NUMBER,
            Permission.ISSUE_CERTIFICATE,
            Permission.VOID_CERTIFICATE,
            Permission.APPROVE,
            Permission.CARD_READ,
            Permission.CARD_DESK,
            Permission.DAILY_REPORT,
            Permission.EXPORT,
        }
    ),
    # The auditor reads the trail but never the register: separation of duties.
    Role.AUDITOR: frozenset({Permission.VIEW_AUDIT, Permission.EXPORT}),
    Role.ADMIN: frozenset({Permission.ADMINISTER, Permission.DAILY_REPORT}),
}


class PermissionDenied(DomainError):
    def __init__(self, permission: Permission) -> None:
        super().__init__(
            f"この操作を行う権限がありません({permission.value})。監督者に確認してください。"
        )
        self.permission = permission


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for r in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(r)]
        except ValueError:
            continue  # an unknown role grants nothing
    return frozenset(granted)


def has_permission(roles: Iterable[str], permission: Permission) -> bool:
    return permission in permissions_of(roles)


def require_permission(roles: Iterable[str], permission: Permission) -> None:
    if not has_permission(roles, permission):
        raise PermissionDenied(permission)
