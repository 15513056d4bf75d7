"""SQLAlchemy Core tables of the central server (the Alembic migrations create them).

Portable between PostgreSQL and SQLite: JSON documents are stored as text (the feed streams
them out without re-encoding), times as timezone-aware DateTime.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)

metadata = MetaData()

# One row (id=1): the last seq handed out. Writers UPDATE it inside their transaction, which
# serialises them, so seq order is commit order and a reader never skips a late commit.
feed_counter = Table(
    "feed_counter",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger, nullable=False),
)

households = Table(
    "households",
    metadata,
    Column("household_id", String(64), primary_key=True),
    Column("version", Integer, nullable=False),  # max of the members' versions
    Column("bucket", Integer, nullable=False, index=True),
    Column("seq", BigInteger, nullable=False),
    Column("data", Text, nullable=False),  # interchange-format JSON
)

persons = Table(
    "persons",
    metadata,
    Column("person_id", String(64), primary_key=True),
    Column("household_id", String(64), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    # Blind index of the 個人番号 (server/register_crypto.py, migration 0005): HMAC-SHA256 hex.
    Column("my_number_mac", String(64), nullable=True),
    Index("uq_persons_my_number_mac", "my_number_mac", unique=True),
)

changes = Table(
    "changes",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(16), nullable=False),
    Column("key", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("data", Text, nullable=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_changes_kind_key", "kind", "key"),
)

operators = Table(
    "operators",
    metadata,
    Column("operator_id", String(64), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("roles", String(255), nullable=False),  # comma separated
    Column("branch", String(100), nullable=False),
    Column("failed_attempts", Integer, nullable=False, default=0),
    Column("locked", Boolean, nullable=False, default=False),
    Column("active", Boolean, nullable=False, default=True),
    Column("version", Integer, nullable=False, default=1),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # The operator's own resident record (migration 0002), for the audit report.
    Column("person_id", String(64), nullable=True),
    # Set by an administrator's reset (migration 0005): only the change is allowed until done.
    Column("must_change_password", Boolean, nullable=False, default=False, server_default=false()),
)

terminals = Table(
    "terminals",
    metadata,
    Column("terminal_no", String(8), primary_key=True),
    Column("hostname", String(255), nullable=False, default=""),
    Column("cert_serial", String(64), nullable=False),
    Column("fingerprint", String(64), nullable=False, unique=True),  # SHA-256 hex of the DER
    Column("not_after", DateTime(timezone=True), nullable=False),
    # The issued certificate: server/audit_ingest.py checks the terminal's audit signatures with it.
    Column("certificate_pem", Text, nullable=False),
    Column("revoked", Boolean, nullable=False, default=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    # AES-GCM(master key, DEK), nonce prepended; AAD is the terminal number.
    Column("escrowed_dek", LargeBinary, nullable=False),
    Column("enrolled_at", DateTime(timezone=True), nullable=False),
)

enrollment_tokens = Table(
    "enrollment_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),  # SHA-256 hex; the token is not kept
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("terminal_no", String(8), nullable=True),
)

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("operator_id", String(64), nullable=False),
    Column("terminal_no", String(8), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("type", String(32), nullable=False),
    Column("terminal_no", String(8), nullable=False),
    Column("operator_id", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("payload", Text, nullable=False),
)

certificates = Table(
    "certificates",
    metadata,
    Column("issuance_no", String(64), primary_key=True),
    Column("terminal_no", String(8), nullable=False),
    Column("operator_id", String(64), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("person_ids", Text, nullable=False),  # JSON list
    Column("copies", Integer, nullable=False),
    Column("fee_yen", Integer, nullable=False),
    Column("content_digest", String(256), nullable=False),
    Column("stale_approved_by", String(64), nullable=True),
    Column("voided", Boolean, nullable=False, default=False),
    Column("voided_at", DateTime(timezone=True), nullable=True),
    Column("void_reason", Text, nullable=True),
    Column("event_id", String(36), nullable=False),
    # Migration 0003 (issue 19): who asked (JSON, protocol.RequesterInfo), the 請求事由
    # (PurposeInfo), the article, and how the copy left (counter | mail, with the address).
    Column("requester", Text, nullable=True),
    Column("purpose", Text, nullable=True),
    Column("rule", String(32), nullable=True),
    Column("delivery", String(16), nullable=False, server_default="counter"),
    Column("mail_to", Text, nullable=True),
)

reconciliation = Table(
    "reconciliation",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, index=True),
    Column("terminal_no", String(8), nullable=False),
    Column("person_id", String(64), nullable=False),
    Column("relied_version", Integer, nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("status", String(16), nullable=False, default="open"),  # open | resolved | acked
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
)

policy = Table(
    "policy",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("data", Text, nullable=False),  # protocol.Policy as JSON
)

card_events = Table(
    "card_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("terminal_no", String(8), nullable=False),
    Column("operator_id", String(64), nullable=False),
    Column("person_id", String(64), nullable=True, index=True),
    Column("action", String(64), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("details", Text, nullable=False),
)

# The terminals' audit chains (server/audit_ingest.py verifies, server/audit_report.py reports).
audit_entries = Table(
    "audit_entries",
    metadata,
    Column("entry_id", String(64), primary_key=True),
    Column("terminal_no", String(8), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operator_id", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("target_ids", Text, nullable=False),  # JSON list
    Column("reason", Text, nullable=True),
    Column("prev_hash", String(128), nullable=False),
    Column("hash", String(128), nullable=False),
    Column("signature", Text, nullable=False),
    UniqueConstraint("terminal_no", "seq", name="uq_audit_terminal_seq"),
)

# --- 住民異動届 (issue 20, migration 0004; server/notifications.py) ---------------------------

# A filed 届出, pending until the head office (審査) confirms or returns it.
notifications = Table(
    "notifications",
    metadata,
    Column("notification_id", String(36), primary_key=True),  # = the event's id
    Column("terminal_no", String(8), nullable=False),
    Column("operator_id", String(64), nullable=False),
    Column("procedure", String(32), nullable=False),
    Column("state", String(16), nullable=False, index=True),  # pending|conflict|confirmed|returned
    Column("office", String(100), nullable=False),
    Column("filed_on", Date, nullable=False),
    Column("moved_on", Date, nullable=False),
    Column("filed_at", DateTime(timezone=True), nullable=False),
    Column("late", Boolean, nullable=False, default=False),
    Column("draft", Text, nullable=False),  # NotificationDraft JSON (draft_to_dict)
    Column("form_digest", String(64), nullable=False),
    Column("acknowledged", Text, nullable=False),  # JSON list of FiledFinding
    Column("move_out_certificate_no", String(64), nullable=True),
    Column("person_ids", Text, nullable=False),  # JSON: registered persons it touches
    Column("household_ids", Text, nullable=False),  # JSON: households it touches
    Column("conflicts", Text, nullable=False),  # JSON list of NotificationConflict
    Column("decided_at", DateTime(timezone=True), nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("reason", Text, nullable=True),  # why it was returned
    Column("decision_version", Integer, nullable=False, default=0),  # the feed item's version
)

# The registered persons a 届出 touches: two open 届出 that share one are a conflict.
notification_persons = Table(
    "notification_persons",
    metadata,
    Column("notification_id", String(36), primary_key=True),
    Column("person_id", String(64), primary_key=True, index=True),
)

# The 異動履歴 (別添1 87 異動事由, 22 異動年月日, 28/30 届出年月日, 88 届出通知区分, 90 受付支所).
change_history = Table(
    "change_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),  # the feed item that carried the change
    Column("person_id", String(64), nullable=False, index=True),
    Column("household_id", String(64), nullable=False),
    Column("reason", String(32), nullable=False),
    Column("changed_on", Date, nullable=False),
    Column("reported_on", Date, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("office", String(100), nullable=False),
    Column("notification_id", String(36), nullable=False, index=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)

# The server's own audit of every 届出 step (the terminals' chains hold the counter's steps).
notification_steps = Table(
    "notification_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(36), nullable=False, index=True),
    Column("step", String(16), nullable=False),  # filed | conflict | confirmed | returned
    Column("at", DateTime(timezone=True), nullable=False),
    Column("operator_id", String(64), nullable=True),
    Column("terminal_no", String(8), nullable=True),  # None: the admin CLI
    Column("detail", Text, nullable=True),  # ids and codes only
)

# Counters for the ids the head office allocates (new persons and households of a 転入 or
# 世帯分離): name → the last number handed out.
id_counters = Table(
    "id_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

# What a confirmation must tell 住基ネット (転入通知 §9①, 特例転出's 転出証明書情報 §24の2③): kept
# in the confirmation's transaction for the municipality's 住基ネット connector (市町村CS), which
# sends it and sets sent_at. The connector itself is not part of this server.
jukinet_messages = Table(
    "jukinet_messages",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", String(36), nullable=False, index=True),
    Column("kind", String(32), nullable=False),  # move_in_notice | move_out_certificate
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    Column("receipt", String(64), nullable=True),
)

# One row (id=1): the register key's check value and whether stored 個人番号 are sealed
# (server/register_crypto.py, migration 0005).
register_keys = Table(
    "register_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("check_value", String(64), nullable=False),
    Column("sealed", Boolean, nullable=False),
)

# Issue 21 (migration 0006). The highest head each terminal's audit chain has shown (POST
# /v1/audit/head, server/audit_heads.py) and the last one; what was found on receipt.
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("terminal_no", String(8), primary_key=True),
    Column("last_seq", BigInteger, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("last_at", DateTime(timezone=True), nullable=False),
    Column("signature", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("max_seq", BigInteger, nullable=False),
    Column("max_hash", String(64), nullable=False),
)

audit_findings = Table(
    "audit_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("terminal_no", String(8), nullable=False, index=True),
    Column("kind", String(32), nullable=False),
    Column("detail", Text, nullable=False),  # Japanese, seqs and ids only
    Column("found_at", DateTime(timezone=True), nullable=False, index=True),
)

# A supervisor's approval used by a certificate_issued event: one approval, one certificate.
approvals_used = Table(
    "approvals_used",
    metadata,
    Column("approval_id", String(36), primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("terminal_no", String(8), nullable=False),
    Column("approver_id", String(64), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=False),
)

# Failed logins and lockouts seen by the server (online logins and password checks), for the
# audit report: the terminal cannot record a failure that never reaches an open cache.
login_events = Table(
    "login_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("operator_id", String(64), nullable=False),
    Column("terminal_no", String(8), nullable=True),
    Column("kind", String(16), nullable=False),  # failed | locked
)
