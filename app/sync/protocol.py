"""Wire models of sync protocol v1 (DESIGN.md §5), shared by the client and the server.

Pure data: pydantic models and constants, no I/O. The server imports this module and
app.domain only; the client's httpx code lives in app.sync.client.

Households travel in the interchange format of DESIGN.md §3 (`app.domain.records`), as a JSON
object in `ChangeItem.data`; both sides validate it (`parse_household`, `parse_line`) when it
arrives. The client reads a page with `parse_changes_page`, which keeps each household's JSON
text as received (`ChangeItem.data_json`) for the cache to decode straight into the records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from app.domain.text import control_character

PROTOCOL_VERSION = 1
API_PREFIX = "/v1"

# Limits that both sides know; the server answers 413 / 422 past them.
MAX_PAGE_LIMIT = 5000
DEFAULT_PAGE_LIMIT = 2000
MAX_EVENTS_PER_BATCH = 500
DIGEST_BUCKETS = 256

# Header that carries the operator session on every call after POST /v1/sessions.
SESSION_HEADER = "X-Madoguchi-Session"

# The version handshake (docs/server.md "Client versions"): the client names its program and
# protocol version on every request; a server configured with a minimum refuses older clients
# with CLIENT_TOO_OLD_STATUS and code CLIENT_TOO_OLD_CODE, and names the minimum in a header.
CLIENT_VERSION_HEADER = "X-Madoguchi-Client-Version"
PROTOCOL_VERSION_HEADER = "X-Madoguchi-Protocol"
MIN_CLIENT_VERSION_HEADER = "X-Madoguchi-Min-Client-Version"
CLIENT_TOO_OLD_STATUS = 426
CLIENT_TOO_OLD_CODE = "client_too_old"
_VERSION = re.compile(r"^(\d{1,6})(?:\.(\d{1,6})){0,3}")


def parse_version(text: str | None) -> tuple[int, ...] | None:
    """ "1.2.3" (a suffix such as ".dev1" or "rc1" is ignored) → (1, 2, 3); None if unreadable."""
    if not text:
        return None
    match = _VERSION.match(text.strip())
    if match is None:
        return None
    parts = tuple(int(p) for p in match.group(0).split("."))
    return parts + (0,) * (3 - len(parts)) if len(parts) < 3 else parts


EVENT_TYPES = (
    "certificate_issued",
    "certificate_voided",
    "card_event",
    "audit_batch",
    "reconciliation_ack",
    "notification_filed",  # a 住民異動届 (app/sync/notification_protocol.py)
)
EventType = Literal[
    "certificate_issued",
    "certificate_voided",
    "card_event",
    "audit_batch",
    "reconciliation_ack",
    "notification_filed",
]
EventStatus = Literal["accepted", "duplicate", "conflict", "rejected"]
# "notification": the head office's decision on a filed 住民異動届 (NotificationDecision).
ChangeKind = Literal["household", "operator", "policy", "terminal", "notification"]


def _iso_only(value: Any) -> Any:
    # pydantic would also take a number (a Unix time) for a datetime; the wire says ISO 8601.
    if isinstance(value, (int, float)):
        raise ValueError("ISO 8601 date-time string expected")
    return value


def _as_utc(value: datetime) -> datetime:
    # One instant, one form: SQLite keeps no offset, so a terminal clock's 09:00-14:00 was read
    # back as 09:00 UTC. A time without an offset is the program's own UTC (as before).
    if value.tzinfo is None:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:  # 0001-01-01T00:00+14:00 has no UTC form
        raise ValueError("date-time out of range") from exc


# A datetime on the wire in requests: an ISO 8601 string only, kept in UTC.
WireDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_as_utc)]

# Column limits of the server's database (server/tables.py): a value past them is refused at the
# boundary (422 / a rejected event) instead of failing in the database (500).
INT32_MAX = 2**31 - 1
MAX_REASON_CHARS = 1000
MAX_DETAILS_CHARS = 4096
UUID_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _plain(value: str) -> str:
    if control_character(value) is not None:
        raise ValueError("control characters are not allowed")
    return value


def _text(value: str) -> str:
    if control_character(value, allow_layout=True) is not None:
        raise ValueError("control characters are not allowed")
    return value


# The same rules as JSON Schema patterns (docs/openapi.json says what the server accepts); the
# validators also refuse lone surrogates, which a pattern cannot name.
_INVISIBLE_PATTERN = r"\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
_PLAIN_PATTERN = rf"^[^\x00-\x1f{_INVISIBLE_PATTERN}]*$"
_TEXT_PATTERN = rf"^[^\x00-\x08\x0b\x0c\x0e-\x1f{_INVISIBLE_PATTERN}]*$"
# An id or a short code: no control characters, at most a String(64) column.
WireId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=_PLAIN_PATTERN), AfterValidator(_plain)
]
# Free text typed by a person (a reason): tabs and line breaks allowed, nothing else below 0x20.
WireText = Annotated[
    str, Field(max_length=MAX_REASON_CHARS, pattern=_TEXT_PATTERN), AfterValidator(_text)
]


class _Model(BaseModel):
    """What the server parses from terminals: unknown keys are errors (a malformed or forged
    request must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class _Answer(BaseModel):
    """What a terminal parses from the server: unknown keys are ignored, so that a newer server
    may add an optional field without stopping every older terminal (issue 21 item 9)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


# The bases for the protocol's other modules (notification_protocol.py): WireModel for what the
# server reads from terminals (strict), WireAnswer for what terminals read from the server.
WireModel = _Model
WireAnswer = _Answer


class Policy(_Answer):
    """Per-municipality policy, pushed through the change feed (kind="policy")."""

    max_staleness_hours: int = 24
    hard_limit_days: int = 14
    offline_login_days: int = 7
    idle_lock_minutes: int = 5
    fee_yen: int = 300
    office_hours: tuple[int, int] = (8, 18)
    mayor_title: str = "北見市長"
    mayor_name: str = "北見 太郎"


class EnrollRequest(_Model):
    token: str = Field(max_length=256)
    csr_pem: str = Field(max_length=16384)
    # The terminal's database key (DEK), base64; the server keeps it under its master key.
    escrowed_dek_b64: str = Field(max_length=128)
    hostname: Annotated[
        str, Field(max_length=255, pattern=_PLAIN_PATTERN), AfterValidator(_plain)
    ] = ""


class EnrollResponse(_Answer):
    terminal_no: str
    certificate_pem: str
    ca_chain_pem: str
    municipality_code: str
    municipality_name: str


# Longer than any password the policy accepts (app/domain/passwords.py), short enough that hashing
# it is no denial of service.
MAX_PASSWORD_CHARS = 1024


class SessionRequest(_Model):
    operator_id: WireId
    password: str = Field(max_length=MAX_PASSWORD_CHARS)


class ChangePasswordRequest(_Model):
    """POST /v1/password: the operator of the session changes their own password."""

    old_password: str = Field(max_length=MAX_PASSWORD_CHARS)
    new_password: str = Field(max_length=MAX_PASSWORD_CHARS)


class OperatorProfile(_Answer):
    operator_id: str
    display_name: str
    roles: tuple[str, ...]
    branch: str
    active: bool = True
    # Operator changes ride the feed; the household data never carries passwords.


class SessionResponse(_Answer):
    session_token: str
    operator: OperatorProfile
    # Empty while must_change_password: the DEK comes with the session after the change.
    dek_b64: str
    policy: Policy
    server_time: datetime
    # An administrator reset the password: every call but POST /v1/password is refused (403
    # password_change_required) until the operator has chosen a new one. Sent only when true.
    must_change_password: bool = False


class ChangeItem(_Answer):
    seq: int
    kind: ChangeKind
    key: str  # household_id, operator_id, "policy" or terminal_no
    version: int
    deleted: bool = False
    # The record. A household item read by `parse_changes_page` leaves it None and keeps the
    # JSON text instead (`data_json`): the cache decodes that text straight into the record
    # types, and a dict of every household would cost more than the rest of the decoding.
    data: dict[str, Any] | None = None
    _json: bytes | None = PrivateAttr(default=None)

    def data_json(self) -> bytes | None:
        """The record as JSON text: as received, or `data` encoded."""
        if self._json is not None:
            return self._json
        return None if self.data is None else msgspec.json.encode(self.data)


class ChangesPage(_Answer):
    items: list[ChangeItem]
    # The cursor to ask with next: the last item's seq while has_more; when the page ends the
    # feed it is latest_seq (older changes of a record are compacted away, so the seqs up to
    # latest_seq need not all appear).
    next_after: int
    has_more: bool
    # The highest seq the server had when the page was cut: "complete" means reaching it.
    latest_seq: int


# Unknown fields of a newer server are skipped, as _Answer does.
class _WireItem(msgspec.Struct):
    seq: int
    kind: ChangeKind
    key: str
    version: int
    deleted: bool = False
    data: msgspec.Raw = msgspec.Raw(b"null")


class _WirePage(msgspec.Struct):
    items: list[_WireItem]
    next_after: int
    has_more: bool
    latest_seq: int


_PAGE_DECODER = msgspec.json.Decoder(_WirePage)


def parse_changes_page(content: bytes) -> ChangesPage:
    """GET /changes's answer → ChangesPage, household data kept as JSON text.

    The common page is decoded by msgspec; one it refuses is validated by pydantic, which
    accepts at least as much and raises its ValidationError (or ValueError) for a malformed
    answer. Operator, policy and terminal items are validated as usual.
    """
    try:
        wire = _PAGE_DECODER.decode(content)
    except msgspec.DecodeError:
        return ChangesPage.model_validate_json(content)
    items = []
    for w in wire.items:
        data = bytes(w.data)
        if w.kind == "household" and data != b"null":
            # The types were checked by msgspec; the record itself by the cache (parse_line).
            item = ChangeItem.model_construct(
                seq=w.seq, kind=w.kind, key=w.key, version=w.version, deleted=w.deleted
            )
            item._json = data
        else:
            item = ChangeItem.model_validate(
                {
                    "seq": w.seq,
                    "kind": w.kind,
                    "key": w.key,
                    "version": w.version,
                    "deleted": w.deleted,
                    "data": msgspec.json.decode(data),
                }
            )
        items.append(item)
    return ChangesPage.model_construct(
        items=items, next_after=wire.next_after, has_more=wire.has_more, latest_seq=wire.latest_seq
    )


class Event(_Model):
    event_id: str = Field(pattern=UUID_PATTERN)  # UUID (lower case), the idempotency key
    type: EventType
    occurred_at: WireDatetime
    operator_id: WireId
    terminal_no: Annotated[
        str, Field(min_length=1, max_length=8, pattern=_PLAIN_PATTERN), AfterValidator(_plain)
    ]
    # person_id → the 住民票版数 the terminal relied on (for conflicts).
    relied_versions: dict[WireId, Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]] = Field(
        default_factory=dict, max_length=100
    )
    # Marked when issued past max_staleness with a supervisor's approval.
    stale_approved_by: WireId | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class EventsBatch(_Model):
    events: list[Event] = Field(max_length=MAX_EVENTS_PER_BATCH)


class EventResult(_Answer):
    event_id: str
    status: EventStatus
    reason: str | None = None  # Japanese, shown to the clerk for rejected / conflict


class EventsResponse(_Answer):
    results: list[EventResult]


class Digest(_Answer):
    bucket_count: int
    # hex SHA-256 over the sorted "(household_id, version)" lines of each bucket, exactly as
    # `bucket_digest` computes it: lines f"{household_id}\t{version}\n" sorted by household_id
    # (Python str order), UTF-8; the version of a household is the max of its members'.
    buckets: list[str]


class BucketRecords(_Answer):
    bucket: int
    households: list[dict[str, Any]]


class SnapshotInfo(_Answer):
    """A copy of the register prepared for one terminal's initial sync (docs/sync.md).

    The file is the terminal's own cache format (SQLCipher, keyed with the terminal's escrowed
    DEK), as of feed position `seq`: the terminal downloads it (resumable by Range), checks
    `sha256`, takes it as its cache and pulls the feed from `seq`.
    """

    snapshot_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    seq: StrictInt = Field(ge=0)
    size: StrictInt = Field(gt=0)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    schema_version: StrictInt = Field(ge=1)
    created_at: datetime


class CertificateInfo(_Answer):
    issuance_no: str
    terminal_no: str
    operator_id: str
    issued_at: datetime
    kind: str
    person_ids: list[str]
    copies: int
    fee_yen: int
    content_digest: str
    voided: bool = False
    delivery: Literal["counter", "mail"] = "counter"


class ServerInfo(_Answer):
    """GET /v1/info: what an administrator confirms before enrolling a PC (no secrets)."""

    municipality_code: str
    municipality_name: str
    protocol_version: int
    min_client_version: str | None = None


class SealBundle(_Answer):
    """GET /v1/seal: the 公印 image and the 市長's title and name, signed by the municipality's
    CA key over `app.domain.seal.seal_signed_bytes(...)`; the terminal verifies it with the CA
    it pinned at enrollment before printing it on an issued certificate."""

    version: StrictInt = Field(ge=1)
    municipality_code: str = Field(min_length=6, max_length=6)
    mayor_title: str = Field(min_length=1, max_length=40)
    mayor_name: str = Field(min_length=1, max_length=40)
    image_png_b64: str = Field(min_length=1, max_length=3_000_000)
    image_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    signed_at: str = Field(min_length=1, max_length=64)  # ISO 8601, signed as this exact text
    signature_b64: str = Field(min_length=1, max_length=400)


class ErrorBody(_Answer):
    """Body of every 4xx/5xx answer: a code for programs, a Japanese message for people."""

    code: str
    message: str


def bucket_of(household_id: str, buckets: int = DIGEST_BUCKETS) -> int:
    """Stable bucket of a household for anti-entropy; both sides must agree on it."""
    import hashlib

    return hashlib.sha256(household_id.encode("utf-8")).digest()[0] % buckets


def bucket_digest(pairs: Iterable[tuple[str, int]]) -> str:
    """Digest of one bucket: both sides call this on their (household_id, version) pairs."""
    import hashlib

    h = hashlib.sha256()
    for household_id, version in sorted(pairs):
        h.update(f"{household_id}\t{version}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------
# Payloads of the event types (Event.payload is a dict on the wire; these name its keys).


class RequesterInfo(_Model):
    """Who asked for a certificate (app.domain.certificates.Requester), as recorded."""

    kind: str = Field(min_length=1, max_length=32)  # RequesterKind
    name: str = Field(default="", max_length=200)  # the person at the counter
    address: str = Field(default="", max_length=400)
    birth_date: date | None = None
    person_id: str | None = Field(default=None, max_length=64)  # None: not registered here
    principal_id: str | None = Field(default=None, max_length=64)  # 代理人・法定代理人: for whom
    representation: str | None = Field(default=None, max_length=32)  # 親権者, 成年後見人 ...
    ground: str | None = Field(default=None, max_length=32)  # §12の3① 各号
    profession: str | None = Field(default=None, max_length=32)  # 特定事務受任者
    client_name: str = Field(default="", max_length=200)
    organization: str = Field(default="", max_length=200)  # 法人 / 国・地方公共団体の機関
    staff_title: str = Field(default="", max_length=100)
    identity_documents: list[str] = Field(default_factory=list, max_length=20)


class PurposeInfo(_Model):
    """請求事由: category, concrete reason, 提出先."""

    category: str | None = Field(default=None, max_length=32)
    reason: str = Field(default="", max_length=1000)
    submit_to: str = Field(default="", max_length=200)


class MailToInfo(_Model):
    """郵送: the subject's address as registered when the copy was issued."""

    postal_code: str = Field(default="", max_length=16)
    address: str = Field(min_length=1, max_length=400)
    katagaki: str | None = Field(default=None, max_length=200)
    addressee: str = Field(min_length=1, max_length=200)
    person_id: str = Field(min_length=1, max_length=64)


_TerminalNo = Annotated[
    str, Field(min_length=1, max_length=8, pattern=_PLAIN_PATTERN), AfterValidator(_plain)
]


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a number, not true/false")
    return value


# An integer as JSON Schema means it (a number without fraction), never a boolean.
_Count = Annotated[int, BeforeValidator(_no_bool)]


def _stamp(value: str) -> str:
    """An aware ISO 8601 time (audit_chain.canonical_at writes them)."""
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 time") from None
    if at.tzinfo is None:
        raise ValueError("a time without its time zone")
    return value


_Stamp = Annotated[
    str,
    Field(min_length=1, max_length=40, json_schema_extra={"format": "date-time"}),
    AfterValidator(_plain),
    AfterValidator(_stamp),
]
_Signature = Annotated[str, Field(max_length=256, pattern=r"^[A-Za-z0-9+/=]*$")]


class AuditHead(_Model):
    """POST /v1/audit/head, after every sync round: where this terminal's audit chain ends now
    (its last seq and hash), signed with the terminal key. The server keeps the highest head it
    has seen per terminal; a chain that later ends lower, or at the same seq with another hash,
    or whose pushed entries go missing on the server, is a finding of `audit report`
    (docs/audit.md "Chain heads")."""

    terminal_no: _TerminalNo
    last_seq: _Count = Field(ge=0, le=2**53 - 1)  # exact in a JSON number
    last_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    at: _Stamp  # canonical UTC ISO (audit_chain.canonical_at)
    signature_b64: _Signature = ""

    def signed_bytes(self) -> bytes:
        from app.domain.audit_chain import canonical_json

        body = self.model_dump(mode="json", exclude={"signature_b64"})
        return b"madoguchi audit head v1\n" + canonical_json(body)


class AuditHeadAnswer(_Answer):
    """What the server made of a head: "ok", or the finding it recorded (Japanese)."""

    status: Literal["ok", "finding"] = "ok"
    message: str | None = None


class ApprovalToken(_Model):
    """A supervisor's approval (支援措置, a stale cache) as a one-time token bound to one request
    (docs/sync.md "Approvals"): signed with the terminal key over `signed_bytes()`, granted in
    the cache's approvals table, consumed in the issuance's transaction. The server checks the
    signature, the binding against the payload, the approver's role and that no other event used
    the same approval_id."""

    approval_id: str = Field(pattern=UUID_PATTERN)
    terminal_no: _TerminalNo
    operator_id: WireId  # the clerk it was granted to
    approver_id: WireId  # the supervisor
    reason: WireText  # the supervisor's reason
    grounds: list[WireId] = Field(
        default_factory=list, max_length=4
    )  # support_measure, stale_cache, reprint
    issued_at: _Stamp  # canonical UTC ISO (audit_chain.canonical_at)
    expires_at: _Stamp
    # The request it is for: whose household, which persons and items, who asked, why.
    household_id: WireId
    person_ids: list[WireId] = Field(min_length=1, max_length=100)  # sorted
    items: dict[WireId, list[WireId]] = Field(default_factory=dict, max_length=100)  # sorted
    requester: RequesterInfo
    purpose: PurposeInfo | None = None
    signature_b64: _Signature = ""
    # Issue 17: a reprint's approval names the 交付番号 it voids and replaces.
    replaces: WireId | None = None

    def signed_bytes(self) -> bytes:
        """What the terminal key signs: canonical JSON (the audit chain's form) of every field
        but the signature, under a domain tag so no other signed thing can pass for it. A token
        that replaces nothing signs without the key (as before issue 17)."""
        from app.domain.audit_chain import canonical_json

        body = self.model_dump(mode="json", exclude={"signature_b64"})
        if body.get("replaces") is None:
            body.pop("replaces", None)
        return b"madoguchi approval v1\n" + canonical_json(body)


class CertificateIssuedPayload(_Model):
    issuance_no: WireId  # "{terminal_no}-{yyyymmdd}-{seq}"
    kind: WireId  # e.g. "juminhyo", "joshohyo"
    person_ids: list[WireId] = Field(min_length=1, max_length=100)
    copies: int = Field(ge=1, le=100)
    fee_yen: int = Field(ge=0, le=INT32_MAX)
    content_digest: Annotated[
        str, Field(min_length=1, max_length=256, pattern=_PLAIN_PATTERN), AfterValidator(_plain)
    ]
    # For the auditor and reconciliation: whose household, who asked, who approved.
    household_id: WireId | None = None
    requester_kind: (
        Annotated[str, Field(max_length=32, pattern=_PLAIN_PATTERN), AfterValidator(_plain)] | None
    ) = None
    approved_by: WireId | None = None
    # Issue 19: the requester as a person, the 請求事由, the article, and how it left.
    requester: RequesterInfo | None = None
    purpose: PurposeInfo | None = None
    rule: str | None = Field(default=None, max_length=32)
    delivery: Literal["counter", "mail"] = "counter"
    mail_to: MailToInfo | None = None
    # Issue 21: the items printed per person, and the supervisor's approval it consumed.
    items: dict[WireId, list[WireId]] | None = Field(default=None, max_length=100)
    approval: ApprovalToken | None = None
    # Issue 17: a reprint — the 交付番号 voided just before (certificate_voided) that this
    # issuance replaces; it needs a supervisor's approval naming that number.
    replaces: WireId | None = None

    @model_validator(mode="after")
    def _mail_has_address(self) -> CertificateIssuedPayload:
        if (self.delivery == "mail") != (self.mail_to is not None):
            raise ValueError("delivery 'mail' needs mail_to, and only it has one")
        return self


class CertificateVoidedPayload(_Model):
    issuance_no: WireId
    reason: WireText = ""


class CardEventPayload(_Model):
    # 交付, 一時停止, 一時停止解除, 廃止, 回収, 返納 ... (recorded; J-LIS does the card itself)
    action: WireId
    person_id: WireId | None = None
    # Ids and states only; bounded (stored as text on the server).
    details: dict[str, Any] = Field(default_factory=dict)

    @field_validator("details")
    @classmethod
    def _small(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(msgspec.json.encode(value)) > MAX_DETAILS_CHARS:
            raise ValueError(f"details larger than {MAX_DETAILS_CHARS} bytes of JSON")
        return value


class ReconciliationAckPayload(_Model):
    """The terminal has shown a conflict notice: by queue id, or every row of a conflicting
    event (the terminal knows the event_id from the `conflict` answer)."""

    reconciliation_id: Annotated[StrictInt, Field(ge=1, le=INT32_MAX)] | None = None
    event_id: str | None = Field(default=None, pattern=UUID_PATTERN)


class AuditBatchPayload(_Model):
    """Event "audit_batch": a contiguous run of the terminal's audit chain (app/store/audit.py
    AuditChain.pending_batch); the entries' wire form is app.domain.audit_chain's."""

    terminal_no: str = Field(min_length=1, max_length=16)
    first_seq: StrictInt = Field(ge=1)
    last_seq: StrictInt = Field(ge=1)
    entries: list[dict[str, Any]] = Field(min_length=1)


# The payload model of each event type: the terminal validates against it before an event
# enters the outbox (a typo fails there, not as "rejected" after the fact); the server again.
EVENT_PAYLOADS: dict[EventType, type[BaseModel]] = {
    "certificate_issued": CertificateIssuedPayload,
    "certificate_voided": CertificateVoidedPayload,
    "card_event": CardEventPayload,
    "audit_batch": AuditBatchPayload,
    "reconciliation_ack": ReconciliationAckPayload,
}


def payload_problems(event: Event) -> list[str]:
    """The payload's fields that do not fit its type's model ([] when it fits)."""
    model = EVENT_PAYLOADS.get(event.type)
    if model is None:
        return ["type"]
    try:
        model.model_validate(event.payload)
    except ValidationError as exc:
        return [".".join(str(p) for p in e["loc"]) or "payload" for e in exc.errors()]
    return []


def new_event(
    payload: BaseModel,
    *,
    event_id: str,
    occurred_at: datetime,
    operator_id: str,
    terminal_no: str,
    relied_versions: dict[str, int] | None = None,
    stale_approved_by: str | None = None,
) -> Event:
    """An Event built from its typed payload (the type follows from the payload's model)."""
    types = [t for t, model in EVENT_PAYLOADS.items() if type(payload) is model]
    if len(types) != 1:
        raise TypeError(f"no event type carries a {type(payload).__name__}")
    return Event(
        event_id=event_id,
        type=types[0],
        occurred_at=occurred_at,
        operator_id=operator_id,
        terminal_no=terminal_no,
        relied_versions=relied_versions or {},
        stale_approved_by=stale_approved_by,
        payload=payload.model_dump(mode="json"),
    )
