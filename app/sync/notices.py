"""Conflict notices: an issuance the server accepted although the record had changed meanwhile.

The server answers `conflict` when an event relied on 住民票版数 older than its own (DESIGN.md
§5): the certificate was issued from a cache that did not yet know a change. The event is kept
by the server (reconciliation queue); the terminal shows the clerk and a supervisor a notice:
which certificate (交付番号), which persons changed (ids and versions, never names — notices
may reach logs), and whom to contact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from app.sync.protocol import Event, EventResult

# Who sorts a conflicting certificate out: the supervisor on site and the central office.
CONTACT_TEXT = "窓口の監督者に報告し、本庁 市民課(住民記録担当)に連絡してください。"


@dataclass(frozen=True, slots=True)
class PersonChange:
    person_id: str
    relied_version: int
    # The version the cache knows now; None when the person is no longer in the cache.
    current_version: int | None


@dataclass(frozen=True, slots=True)
class ConflictNotice:
    event_id: str
    event_type: str
    issuance_no: str | None
    operator_id: str
    terminal_no: str
    changed: tuple[PersonChange, ...]
    server_reason: str | None

    @property
    def text(self) -> str:
        """What the clerk and the supervisor read (Japanese, ids only)."""
        if self.event_type == "notification_filed":
            # A 住民異動届 waits for the head office's 審査 (app/sync/notification_protocol.py):
            # nothing to put right at the counter; the decision comes back through the feed.
            reason = f"(サーバー: {self.server_reason})" if self.server_reason else ""
            return (
                f"住民異動届(届出ID {self.event_id})は受け付けられましたが、同じ方の別の届出が"
                f"審査中か、参照した住民票が更新されていたため、本庁の審査で確認されます。{reason}"
                "審査の結果はこの端末に届きます。"
            )
        what = f"交付番号 {self.issuance_no} の証明書" if self.issuance_no else "端末で記録した処理"
        if self.changed:
            persons = "、".join(
                f"個人ID {c.person_id}(版数 {c.relied_version}→"
                f"{c.current_version if c.current_version is not None else '不明'})"
                for c in self.changed
            )
            changed = f"交付時に参照した住民票が更新されていました: {persons}。"
        else:
            changed = "交付時に参照した住民票がサーバー側で更新されていました。"
        reason = f"(サーバー: {self.server_reason})" if self.server_reason else ""
        return (
            f"{what}は、サーバーで受け付けられましたが要確認です。{changed}{reason}"
            f"交付した証明書の内容が現在の住民票と一致するか確認し、{CONTACT_TEXT}"
        )


def conflict_notice(
    event: Event,
    result: EventResult,
    current_version: Callable[[str], int | None] | Mapping[str, int | None],
) -> ConflictNotice:
    """Notice for one `conflict` result; `current_version(person_id)` reads the cache.

    Persons whose current version equals the relied one are left out; when the cache does not
    know newer versions yet (no pull since), every relied person is listed with what is known.
    """
    lookup = current_version.get if isinstance(current_version, Mapping) else current_version
    relied = sorted(event.relied_versions.items())
    changes = [PersonChange(pid, version, lookup(pid)) for pid, version in relied]
    changed = tuple(c for c in changes if c.current_version != c.relied_version)
    if not changed:
        changed = tuple(changes)
    issuance_no = event.payload.get("issuance_no")
    return ConflictNotice(
        event_id=event.event_id,
        event_type=event.type,
        issuance_no=issuance_no if isinstance(issuance_no, str) else None,
        operator_id=event.operator_id,
        terminal_no=event.terminal_no,
        changed=changed,
        server_reason=result.reason,
    )
