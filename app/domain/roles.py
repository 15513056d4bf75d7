"""Roles (役割) and what each may do: the one table that the client's services and the server's
event checks both read (the server may import app.domain only)."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    CLERK = "clerk"  # 窓口職員
    ISSUER = "issuer"  # 交付担当
    SUPERVISOR = "supervisor"  # 監督者
    AUDITOR = "auditor"  # 監査者
    ADMIN = "admin"  # 管理者
    REVIEW = (
        "review"  # 審査 (本庁 市民課: confirms or returns the 住民異動届 filed at the counters)
    )


ROLE_LABELS: dict[Role, str] = {
    Role.CLERK: "窓口職員",
    Role.ISSUER: "交付担当",
    Role.SUPERVISOR: "監督者",
    Role.AUDITOR: "監査者",
    Role.ADMIN: "管理者",
    Role.REVIEW: "審査",
}


class Permission(StrEnum):
    SEARCH = "search"  # 検索
    VIEW_RECORD = "view_record"  # 住民票の閲覧
    REVEAL_MY_NUMBER = "reveal_my_number"  # 個人番号の表示(理由付き)
    REVEAL_ADDRESS = "reveal_address"  # 支援措置の対象となる住所の表示(理由付き)
    VIEW_PERSON_DETAIL = "view_person_detail"  # 個人の詳細(本籍・筆頭者、前住所、異動履歴)
    ISSUE_CERTIFICATE = "issue_certificate"  # 住民票の写しの交付
    VOID_CERTIFICATE = "void_certificate"  # 交付の取消
    APPROVE = "approve"  # 監督者承認(支援措置、古いキャッシュ)
    CARD_READ = "card_read"  # カードの読み取り
    CARD_DESK = "card_desk"  # 交付・一時停止・廃止などの記録
    DAILY_REPORT = "daily_report"  # 日計表
    VIEW_AUDIT = "view_audit"  # 監査ログの閲覧
    EXPORT = "export"  # 媒体への出力
    ADMINISTER = "administer"  # 端末設定
    FILE_NOTIFICATION = "file_notification"  # 住民異動届の受付(書かない窓口)
    REVIEW_NOTIFICATION = "review_notification"  # 住民異動届の審査(確定・差戻し)


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.CLERK: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.CARD_READ,
            Permission.FILE_NOTIFICATION,
        }
    ),
    Role.ISSUER: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.REVEAL_MY_NUMBER,
            Permission.REVEAL_ADDRESS,
            Permission.VIEW_PERSON_DETAIL,
            Permission.ISSUE_CERTIFICATE,
            Permission.CARD_READ,
            Permission.CARD_DESK,
            Permission.DAILY_REPORT,
            Permission.FILE_NOTIFICATION,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.REVEAL_MY_NUMBER,
            Permission.REVEAL_ADDRESS,
            Permission.VIEW_PERSON_DETAIL,
            Permission.ISSUE_CERTIFICATE,
            Permission.VOID_CERTIFICATE,
            Permission.APPROVE,
            Permission.CARD_READ,
            Permission.CARD_DESK,
            Permission.DAILY_REPORT,
            Permission.EXPORT,
            Permission.FILE_NOTIFICATION,
        }
    ),
    # The auditor reads the trail but never the register: separation of duties.
    Role.AUDITOR: frozenset({Permission.VIEW_AUDIT, Permission.EXPORT}),
    Role.ADMIN: frozenset({Permission.ADMINISTER, Permission.DAILY_REPORT}),
    # The head office's review of filed 届出: reads the register to compare (the 異動履歴 of
    # the person detail too), never issues.
    Role.REVIEW: frozenset(
        {
            Permission.SEARCH,
            Permission.VIEW_RECORD,
            Permission.VIEW_PERSON_DETAIL,
            Permission.REVIEW_NOTIFICATION,
        }
    ),
}


def permissions_of(roles: Iterable[str]) -> frozenset[Permission]:
    granted: set[Permission] = set()
    for r in roles:
        try:
            granted |= ROLE_PERMISSIONS[Role(r)]
        except ValueError:
            continue  # an unknown role grants nothing
    return frozenset(granted)
