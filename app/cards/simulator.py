"""A virtual 個人番号カード built from a JSON profile, in-process or as a vpcd card.

It behaves as DESIGN.md §7 says: 63Cx retry counters that block at zero (63C0 on the last wrong
try, then 6984), 6982 before verification, 6A82 for unknown APs/EFs, 6B00 past the end of a file,
6A86 for bad P1/P2, and VERIFY with no data answering the retry count without using a try.
Security status is reset when another AP is selected and on card reset.

The JPKI certificates are generated for the profile with `cryptography` (a throwaway CA and an
RSA-2048 user-authentication certificate). The face photo is a small PNG drawn here: JPEG 2000,
which real cards carry, is not producible without extra libraries; readers must not depend on
the image format.

vpcd protocol (vsmartcard): TCP, each message a 2-byte big-endian length then the payload; a
1-byte payload is a control byte (0 power off, 1 power on, 2 reset, 4 send the ATR), anything
longer a command APDU answered by a response APDU.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import socket
import struct
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.cards.apdu import encode_tlv
from app.cards.mynumber import (
    AID_JPKI,
    AID_JUKI,
    AID_KENHOJO,
    AID_KENMEN,
    EF_JPKI_AUTH_CA,
    EF_JPKI_AUTH_CERT,
    EF_JPKI_AUTH_PIN,
    EF_JPKI_SIGN_CA,
    EF_JPKI_SIGN_CERT,
    EF_JPKI_SIGN_PIN,
    EF_KENHOJO_BASIC4,
    EF_KENHOJO_MY_NUMBER,
    EF_KENHOJO_PIN,
    EF_KENHOJO_PIN_B,
    EF_KENMEN_ENTRIES,
    EF_KENMEN_PIN_B,
)
from app.domain.cards import collation_number_b
from app.domain.identifiers import is_valid_my_number

log = logging.getLogger(__name__)

# The ATR of the 個人番号カード; OpenSC's JPKI driver matches it.
ATR = bytes.fromhex("3BE000FF8131FE4514")

SW_OK = b"\x90\x00"
SW_WRONG_LENGTH = b"\x67\x00"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x84"
SW_NO_CURRENT_EF = b"\x69\x86"
SW_NOT_FOUND = b"\x6a\x82"
SW_BAD_P1P2 = b"\x6a\x86"
SW_BEYOND_END = b"\x6b\x00"
SW_BAD_INS = b"\x6d\x00"
SW_BAD_CLA = b"\x6e\x00"

_SEX_CODES = {"male": "1", "female": "2", "not_applicable": "9"}


@dataclass(frozen=True)
class CardProfile:
    name: str
    address: str
    birth_date: dt.date
    sex: str
    my_number: str
    kenhojo_pin: str
    jpki_auth_pin: str
    jpki_sign_password: str
    security_code: str
    card_expires_on: dt.date
    certificate_expires_on: dt.date
    retries: dict[str, int] = field(default_factory=dict)

    def __repr__(self) -> str:  # fake data, but the rule is the same: no personal data in logs
        return "CardProfile(<redacted>)"

    @property
    def collation_b(self) -> str:
        return collation_number_b(self.birth_date, self.card_expires_on.year, self.security_code)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CardProfile:
        try:
            p = cls(
                name=str(d["name"]),
                address=str(d["address"]),
                birth_date=dt.date.fromisoformat(d["birth_date"]),
                sex=str(d["sex"]),
                my_number=str(d["my_number"]),
                kenhojo_pin=str(d["kenhojo_pin"]),
                jpki_auth_pin=str(d["jpki_auth_pin"]),
                jpki_sign_password=str(d["jpki_sign_password"]),
                security_code=str(d["security_code"]),
                card_expires_on=dt.date.fromisoformat(d["card_expires_on"]),
                certificate_expires_on=dt.date.fromisoformat(d["certificate_expires_on"]),
                retries={str(k): int(v) for k, v in (d.get("retries") or {}).items()},
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"カードのプロファイルが不正です({type(exc).__name__})") from exc
        if p.sex not in _SEX_CODES:
            raise ValueError("カードのプロファイルの性別は male / female / not_applicable です。")
        if not is_valid_my_number(p.my_number):
            raise ValueError("カードのプロファイルの個人番号が不正です。")
        for pin in (p.kenhojo_pin, p.jpki_auth_pin):
            if not (len(pin) == 4 and pin.isdigit()):
                raise ValueError("暗証番号は4桁の数字です。")
        if not 6 <= len(p.jpki_sign_password) <= 16:
            raise ValueError("署名用電子証明書暗証番号は6〜16文字です。")
        return p

    @classmethod
    def load(cls, path: str | Path) -> CardProfile:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def demo_profile_path() -> Path:
    """The shipped demo card (resources/cards/demo_card.json); the demo register matches it."""
    from importlib.resources import files

    return Path(str(files("resources") / "cards" / "demo_card.json"))


# --------------------------------------------------------------------------------------------
# Generated content


def make_png(width: int = 48, height: int = 64) -> bytes:
    """A small grey head-and-shoulders silhouette as PNG, without any imaging library."""
    rows = []
    cx, cy, r = width // 2, height // 3, width // 5
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            head = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
            body = y > cy + r and abs(x - cx) <= (y - cy - r) + r
            row.append(90 if head or body else 225)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class JpkiMaterial:
    auth_cert: bytes
    auth_ca: bytes
    sign_cert: bytes
    sign_ca: bytes


_material_cache: dict[tuple[str, dt.date], JpkiMaterial] = {}
_material_lock = threading.Lock()


def make_jpki_material(profile: CardProfile) -> JpkiMaterial:
    """Certificates for the profile; generated once per process (RSA key generation is slow)."""
    key = (profile.my_number, profile.certificate_expires_on)
    with _material_lock:
        if key in _material_cache:
            return _material_cache[key]
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        user_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        ca_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Madoguchi Virtual JPKI"),
                x509.NameAttribute(NameOID.COMMON_NAME, "Virtual JPKI User Authentication CA"),
            ]
        )
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        expires = dt.datetime.combine(
            profile.certificate_expires_on, dt.time(23, 59, 59), tzinfo=dt.UTC
        )
        user_serial = x509.random_serial_number()
        # Like the real 利用者証明用電子証明書, the subject carries no name: a serial only.
        user = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.COMMON_NAME, f"VIRTUAL-{user_serial:x}"[:64]),
                    ]
                )
            )
            .issuer_name(ca_name)
            .public_key(user_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(min(now - dt.timedelta(days=1), expires - dt.timedelta(days=2)))
            .not_valid_after(expires)
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        der = serialization.Encoding.DER
        material = JpkiMaterial(
            auth_cert=user.public_bytes(der),
            auth_ca=ca.public_bytes(der),
            sign_cert=user.public_bytes(der),  # stands in; it is behind the signature password
            sign_ca=ca.public_bytes(der),
        )
        _material_cache[key] = material
        return material


# --------------------------------------------------------------------------------------------
# The card


@dataclass
class _Pin:
    secret: bytes
    max_tries: int
    remaining: int


@dataclass(frozen=True)
class _File:
    data: bytes
    # PIN EFs (aid, fid) of which any one verified opens the file; empty = free.
    needs: tuple[tuple[bytes, bytes], ...] = ()


class VirtualCard:
    def __init__(self, profile: CardProfile, *, max_chunk: int = 256) -> None:
        self.profile = profile
        self.atr = ATR
        # Cards may answer fewer bytes than asked; tests lower this to exercise short reads.
        self.max_chunk = max_chunk
        self._lock = threading.RLock()
        p = profile
        r = p.retries
        self.pins: dict[tuple[bytes, bytes], _Pin] = {
            (AID_KENHOJO, EF_KENHOJO_PIN): _Pin(p.kenhojo_pin.encode(), 3, r.get("kenhojo_pin", 3)),
            (AID_KENHOJO, EF_KENHOJO_PIN_B): _Pin(
                p.collation_b.encode(), 10, r.get("collation_b", 10)
            ),
            (AID_JPKI, EF_JPKI_AUTH_PIN): _Pin(
                p.jpki_auth_pin.encode(), 3, r.get("jpki_auth_pin", 3)
            ),
            (AID_JPKI, EF_JPKI_SIGN_PIN): _Pin(
                p.jpki_sign_password.encode(), 5, r.get("jpki_sign_password", 5)
            ),
            (AID_KENMEN, EF_KENMEN_PIN_B): _Pin(
                p.collation_b.encode(), 10, r.get("collation_b", 10)
            ),
        }
        jpki = make_jpki_material(p)
        pin = (AID_KENHOJO, EF_KENHOJO_PIN)
        pin_b = (AID_KENHOJO, EF_KENHOJO_PIN_B)
        self.files: dict[tuple[bytes, bytes], _File] = {
            (AID_KENHOJO, EF_KENHOJO_MY_NUMBER): _File(
                encode_tlv(0xFF10, p.my_number.encode("ascii")) + b"\xff" * 3, (pin,)
            ),
            (AID_KENHOJO, EF_KENHOJO_BASIC4): _File(self._basic4() + b"\xff" * 16, (pin, pin_b)),
            (AID_JPKI, EF_JPKI_AUTH_CERT): _File(jpki.auth_cert),
            (AID_JPKI, EF_JPKI_AUTH_CA): _File(jpki.auth_ca),
            (AID_JPKI, EF_JPKI_SIGN_CERT): _File(jpki.sign_cert, ((AID_JPKI, EF_JPKI_SIGN_PIN),)),
            (AID_JPKI, EF_JPKI_SIGN_CA): _File(jpki.sign_ca),
            (AID_KENMEN, EF_KENMEN_ENTRIES): _File(
                self._kenmen(), ((AID_KENMEN, EF_KENMEN_PIN_B),)
            ),
        }
        self.aids = {AID_KENHOJO, AID_JPKI, AID_KENMEN, AID_JUKI}
        self.reset()

    def _basic4(self) -> bytes:
        p = self.profile
        fields = [
            (0xDF22, p.name.encode("utf-8")),
            (0xDF23, p.address.encode("utf-8")),
            (0xDF24, p.birth_date.strftime("%Y%m%d").encode()),
            (0xDF25, _SEX_CODES[p.sex].encode()),
        ]
        body = b"".join(encode_tlv(t, v) for t, v in fields)
        # DF21: offsets of the four items inside the value (as the real card has).
        offsets = bytearray()
        pos = 2 + 2 * len(fields) + 3  # after the DF21 TLV itself (3-byte header)
        for t, v in fields:
            offsets += pos.to_bytes(2, "big")
            pos += len(encode_tlv(t, v))
        return encode_tlv(0xFF20, encode_tlv(0xDF21, bytes(offsets[: 2 * len(fields)])) + body)

    def _kenmen(self) -> bytes:
        p = self.profile
        fields = [
            (0xDF22, p.birth_date.strftime("%Y%m%d").encode()),
            (0xDF23, _SEX_CODES[p.sex].encode()),
            (0xDF27, make_png()),
            (0xDF29, p.card_expires_on.strftime("%Y%m%d").encode()),
        ]
        return encode_tlv(
            0xFF20, encode_tlv(0xDF21, b"\x00" * 8) + b"".join(encode_tlv(t, v) for t, v in fields)
        )

    # -- state -------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.current_df: bytes | None = None
            self.current_ef: bytes | None = None
            self.verified: set[tuple[bytes, bytes]] = set()

    def remaining(self, aid: bytes, fid: bytes) -> int:
        return self.pins[(aid, fid)].remaining

    # -- APDU processing -------------------------------------------------------------------

    def process(self, apdu: bytes) -> bytes:
        with self._lock:
            try:
                return self._process(apdu)
            except Exception:  # a simulator bug must look like a card error, not a hang
                log.exception("virtual card failed on INS %02X", apdu[1] if len(apdu) > 1 else 0)
                return b"\x6f\x00"

    def _process(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return SW_WRONG_LENGTH
        cla, ins, p1, p2 = apdu[0], apdu[1], apdu[2], apdu[3]
        body = apdu[4:]
        data = b""
        le: int | None = None
        if len(body) == 1:
            le = body[0] or 256
        elif len(body) > 1:
            lc = body[0]
            if lc == 0 or len(body) not in (1 + lc, 2 + lc):
                return SW_WRONG_LENGTH
            data = body[1 : 1 + lc]
            if len(body) == 2 + lc:
                le = body[-1] or 256
        if cla != 0x00:
            return SW_BAD_CLA
        if ins == 0xA4:
            return self._select(p1, p2, data)
        if ins == 0x20:
            return self._verify(p1, p2, data)
        if ins == 0xB0:
            return self._read_binary(p1, p2, le)
        return SW_BAD_INS

    def _select(self, p1: int, p2: int, data: bytes) -> bytes:
        if p2 != 0x0C:
            return SW_BAD_P1P2
        if p1 == 0x04:
            if data not in self.aids:
                return SW_NOT_FOUND
            if data != self.current_df:
                self.verified.clear()  # security status belongs to the AP
            self.current_df = data
            self.current_ef = None
            return SW_OK
        if p1 == 0x02:
            if len(data) != 2:
                return SW_WRONG_LENGTH
            key = (self.current_df or b"", data)
            if key not in self.files and key not in self.pins:
                return SW_NOT_FOUND
            self.current_ef = data
            return SW_OK
        return SW_BAD_P1P2

    def _verify(self, p1: int, p2: int, data: bytes) -> bytes:
        if p1 != 0x00 or p2 != 0x80:
            return SW_BAD_P1P2
        key = (self.current_df or b"", self.current_ef or b"")
        pin = self.pins.get(key)
        if pin is None:
            return SW_NO_CURRENT_EF
        if not data:
            if key in self.verified:
                return SW_OK
            if pin.remaining == 0:
                return SW_BLOCKED
            return bytes((0x63, 0xC0 | pin.remaining))
        if pin.remaining == 0:
            return SW_BLOCKED
        if data == pin.secret:
            pin.remaining = pin.max_tries
            self.verified.add(key)
            return SW_OK
        pin.remaining -= 1
        self.verified.discard(key)
        return bytes((0x63, 0xC0 | pin.remaining))

    def _read_binary(self, p1: int, p2: int, le: int | None) -> bytes:
        if p1 & 0x80:
            return SW_BAD_P1P2  # short EF identifiers: not offered
        key = (self.current_df or b"", self.current_ef or b"")
        f = self.files.get(key)
        if f is None:
            return SW_NO_CURRENT_EF
        if f.needs and not any(n in self.verified for n in f.needs):
            return SW_SECURITY
        if le is None:
            return SW_WRONG_LENGTH
        offset = (p1 << 8) | p2
        if offset >= len(f.data):
            return SW_BEYOND_END
        n = min(le, self.max_chunk, len(f.data) - offset)
        return f.data[offset : offset + n] + SW_OK


# --------------------------------------------------------------------------------------------
# vpcd


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


class VpcdCard:
    """The virtual card connected to vpcd: `insert()` connects, `remove()` disconnects.

    `remove_after=N` pulls the card out (closes the connection without answering) when the
    N+1th APDU arrives, to test a card removed in the middle of a read.
    """

    def __init__(
        self,
        card: VirtualCard,
        host: str = "127.0.0.1",
        port: int = 35963,
        *,
        remove_after: int | None = None,
    ) -> None:
        self.card = card
        self.host = host
        self.port = port
        self.remove_after = remove_after
        self.apdus = 0
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.connected = threading.Event()

    def insert(self, timeout: float = 10.0) -> None:
        sock = socket.create_connection((self.host, self.port), timeout=timeout)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self._lock:
            self._sock = sock
        self.card.reset()
        self.apdus = 0
        self.connected.set()
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), daemon=True, name="vpcd-card"
        )
        self._thread.start()

    def remove(self) -> None:
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        self._thread = None
        self.connected.clear()

    def _serve(self, sock: socket.socket) -> None:
        try:
            while True:
                head = _recv_exact(sock, 2)
                if head is None:
                    break
                payload = _recv_exact(sock, struct.unpack(">H", head)[0])
                if payload is None:
                    break
                reply = self._handle(payload)
                if reply is False:
                    break
                if isinstance(reply, bytes):
                    sock.sendall(struct.pack(">H", len(reply)) + reply)
        except OSError:
            pass
        finally:
            with self._lock:
                if self._sock is sock:
                    self._sock = None
                    with contextlib.suppress(OSError):
                        sock.close()
            self.connected.clear()

    def _handle(self, payload: bytes) -> bytes | bool | None:
        if len(payload) == 1:
            ctrl = payload[0]
            if ctrl in (0, 1, 2):  # off, on, reset: the card loses its security state
                self.card.reset()
                return None
            if ctrl == 4:
                return self.card.atr
            return None
        if self.remove_after is not None and self.apdus >= self.remove_after:
            return False
        self.apdus += 1
        return self.card.process(payload)


def serve_vpcd(
    card: VirtualCard, host: str, port: int, stop: threading.Event, *, retry_s: float = 1.0
) -> None:
    """Keep the card inserted (reconnecting when vpcd/pcscd restarts) until `stop` is set."""
    vc = VpcdCard(card, host, port)
    while not stop.is_set():
        if not vc.connected.is_set():
            try:
                vc.insert(timeout=retry_s)
                log.info("virtual card connected to vpcd %s:%d", host, port)
            except OSError:
                stop.wait(retry_s)
                continue
        stop.wait(0.2)
    vc.remove()
