"""A simulated 住基ネット: 転出証明書情報 held in memory, notices recorded, nothing sent anywhere.

It behaves as the counter sees the real one: the 転出証明書情報 of a 特例転出 is found by the
card of its holder (the 4情報 on the card must be the certificate's), a card with no 特例転出
is NotFound, a line that is down is JukinetUnavailable, and what Kitami sends (特例転出, 転入通知)
is kept in `sent_move_out` / `sent_move_in` with a receipt number. The demo's certificates come
from resources/jukinet/demo_move_out.json, dated relative to the day the demo starts.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from collections.abc import Iterable
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import msgspec

from app.domain.notifications.model import MoveOutCertificate
from app.jukinet.protocol import (
    CardIdentity,
    JukinetError,
    JukinetUnavailable,
    MoveInNotice,
    NotFound,
)

DEMO_FILE = ("jukinet", "demo_move_out.json")


def demo_certificates_path() -> Path:
    return Path(str(resources.files("resources").joinpath(*DEMO_FILE)))


def _key(name: str) -> str:
    # Spaces of any width and IVS are notation; the characters themselves must agree.
    s = unicodedata.normalize("NFKC", name)
    return "".join(c for c in s if not c.isspace() and not 0xE0100 <= ord(c) <= 0xE01EF)


def demo_certificates(today: date, text: str | None = None) -> tuple[MoveOutCertificate, ...]:
    """The demo file's certificates, their days counted back from `today`."""
    raw = json.loads(text if text is not None else demo_certificates_path().read_text("utf-8"))
    out = []
    for c in raw["certificates"]:
        c = dict(c)
        c["planned_on"] = (today - timedelta(days=c.pop("planned_days_ago"))).isoformat()
        c["reported_on"] = (today - timedelta(days=c.pop("reported_days_ago"))).isoformat()
        c["source"] = "jukinet"
        out.append(msgspec.convert(c, MoveOutCertificate, strict=False))
    return tuple(out)


class SimulatedJukinet:
    """In-memory 住基ネット (implements app.jukinet.protocol.JukinetAdapter)."""

    def __init__(self, certificates: Iterable[MoveOutCertificate] = ()) -> None:
        self._lock = threading.Lock()
        self._held = list(certificates)  # 転出証明書情報 addressed to this municipality
        self.available = True
        self.sent_move_out: list[tuple[MoveOutCertificate, str | None, str]] = []
        self.sent_move_in: list[tuple[MoveInNotice, str]] = []
        self._receipts = 0

    @classmethod
    def demo(cls, today: date) -> SimulatedJukinet:
        return cls(demo_certificates(today))

    def _check_line(self) -> None:
        if not self.available:
            raise JukinetUnavailable(
                "住基ネットに接続できません。特例転入・特例転出の処理は接続が戻ってから行います。"
            )

    def _receipt(self) -> str:
        self._receipts += 1
        return f"SIM-{self._receipts:06d}"

    def fetch_move_out_certificate(self, card: CardIdentity) -> MoveOutCertificate:
        with self._lock:
            self._check_line()
            for c in self._held:
                for p in c.persons:
                    if p.card_holder and p.my_number == card.my_number:
                        same = (_key(p.name), p.birth_date) == (_key(card.name), card.birth_date)
                        if not same or p.sex != card.sex:
                            raise JukinetError(
                                "カードの4情報が転出証明書情報と一致しません。"
                                "カードと本人確認書類を確認してください。"
                            )
                        return c
        raise NotFound(
            "このカードの転出証明書情報がありません（特例転出をしていないか、転入予定地が"
            "ほかの市町村です）。転出地で転出証明書の交付を受けて通常の転入届としてください。"
        )

    def send_move_out_certificate(
        self, certificate: MoveOutCertificate, destination_code: str | None
    ) -> str:
        with self._lock:
            self._check_line()
            receipt = self._receipt()
            self.sent_move_out.append((certificate, destination_code, receipt))
            return receipt

    def send_move_in_notice(self, notice: MoveInNotice) -> str:
        with self._lock:
            self._check_line()
            receipt = self._receipt()
            self.sent_move_in.append((notice, receipt))
            return receipt

    def held(self) -> tuple[MoveOutCertificate, ...]:
        with self._lock:
            return tuple(self._held)


def certificate_json(certificate: MoveOutCertificate) -> dict[str, Any]:
    return msgspec.json.decode(msgspec.json.encode(certificate), type=dict[str, Any])
