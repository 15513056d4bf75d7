"""The seam between the counter and 住基ネット: a Protocol, the messages, the errors.

Real 住基ネット access goes through the municipality's 市町村CS (communication server) and its
統合端末, under the 住民基本台帳ネットワークシステム 技術的基準; a 特例転入 there reads the card's
住基AP (with the card's PIN) and asks the 転出地 for the 転出証明書情報 that arrived (or is
requested) through the 都道府県サーバ. This module names the three operations the counter needs,
in the terms of the law, so that an implementation for the CS can replace the simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.domain.cards import CardFaceInfo
from app.domain.errors import DomainError
from app.domain.notifications.model import MoveOutCertificate


class JukinetError(DomainError):
    """A 住基ネット operation failed; the message is Japanese, for the clerk."""


class JukinetUnavailable(JukinetError):
    """No connection (the line or the CS is down): the 特例 cannot be done now."""


class NotFound(JukinetError):
    """No 転出証明書情報 for this card (no 特例転出 was filed, or it was for elsewhere)."""


@dataclass(frozen=True, slots=True)
class CardIdentity:
    """What the counter read from the presented 個人番号カード (券面事項入力補助AP, PIN entered).

    The real CS keys the request by the 住民票コード of the card's 住基AP; the simulator keys it
    by the 個人番号 and checks the 4情報, which is what our card stack reads."""

    my_number: str
    name: str
    birth_date: date
    sex: str
    address: str  # the card face's address: still the old one before the 転入

    def __repr__(self) -> str:  # no personal data in logs
        return "CardIdentity(<redacted>)"

    @classmethod
    def from_card(cls, face: CardFaceInfo) -> CardIdentity:
        """From the card's 4情報 read with the PIN (which also gives the 個人番号)."""
        if face.my_number is None:
            raise JukinetError("個人番号カードの暗証番号を入力して、個人番号を読み取ってください。")
        return cls(face.my_number, face.name, face.birth_date, face.sex, face.address)


@dataclass(frozen=True, slots=True)
class MoveInNotice:
    """転入通知 (§9①): the 転入地 tells the 転出地 that the person moved in (転出確定)."""

    juminhyo_code: str
    name: str
    birth_date: date
    moved_in_on: date
    new_address: str
    moved_out_municipality_code: str  # the 転出地
    notification_id: str  # our 届出, for the receipt

    def __repr__(self) -> str:
        return f"MoveInNotice(notification_id={self.notification_id!r})"


class JukinetAdapter(Protocol):
    def fetch_move_out_certificate(self, card: CardIdentity) -> MoveOutCertificate:
        """The 転出証明書情報 for a 特例転入 (§24の2①③④), source "jukinet".

        Raises NotFound, JukinetUnavailable, or JukinetError (4情報 that do not match)."""
        ...

    def send_move_out_certificate(
        self, certificate: MoveOutCertificate, destination_code: str | None
    ) -> str:
        """Send the 転出証明書情報 of a 特例転出 to the 転入予定地 (§24の2③); a receipt number.

        `destination_code` is the 地方公共団体コード of the 転入予定地 when the clerk chose it
        (the CS resolves it from the 転出先 otherwise)."""
        ...

    def send_move_in_notice(self, notice: MoveInNotice) -> str:
        """Send the 転入通知 to the 転出地 (§9①); a receipt number."""
        ...
