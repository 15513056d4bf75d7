"""Numbered schema migrations of the local cache.

`MIGRATIONS[i]` takes a database at `PRAGMA user_version = i` to `i + 1`. A step is a list of
SQL statements run in one transaction together with the user_version bump, so a crash leaves
the database at one version or the next, never between. Steps are never edited once shipped:
a change is a new step appended at the end (tests build a database with the first k steps and
migrate it with step k + 1).

The file is encrypted as a whole by SQLCipher, so plain indexes on names and numbers do not
leak anything to someone who holds only the file. 個人番号 is still indexed through a keyed
hash (`my_number_tag`) so that the index order says nothing about the numbers even to code
that can read the pages.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.domain.addresses import search_key

# Step 1 (v1): residents, search keys, operators, meta (cursor, policy, terminal status).
_V1 = [
    """CREATE TABLE meta (
        k TEXT PRIMARY KEY,
        v TEXT NOT NULL
    )""",
    # The key of the 個人番号 index: random per cache, inside the encrypted file.
    "INSERT INTO meta(k, v) VALUES ('my_number_tag_key', lower(hex(randomblob(32))))",
    "INSERT INTO meta(k, v) VALUES ('cursor', '0')",
    """CREATE TABLE households (
        household_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        bucket INTEGER NOT NULL,
        municipality_code TEXT NOT NULL,
        postal_code TEXT NOT NULL,
        address TEXT NOT NULL,
        katagaki TEXT,
        head_person_id TEXT NOT NULL,
        address_key TEXT NOT NULL,
        katagaki_key TEXT,
        raw TEXT NOT NULL
    )""",
    "CREATE INDEX households_bucket ON households(bucket)",
    "CREATE INDEX households_address_key ON households(address_key)",
    "CREATE INDEX households_katagaki_key ON households(katagaki_key)",
    """CREATE TABLE persons (
        person_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        juminhyo_code TEXT NOT NULL,
        my_number TEXT,
        my_number_tag BLOB,
        version INTEGER NOT NULL,
        status TEXT NOT NULL,
        name TEXT NOT NULL,
        name_kana TEXT NOT NULL,
        former_name TEXT,
        alias TEXT,
        alias_kana TEXT,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL,
        relationship TEXT NOT NULL,
        honseki TEXT,
        hittosha TEXT,
        became_resident_on TEXT,
        became_resident_reported_on TEXT,
        address_set_on TEXT,
        address_set_reported_on TEXT,
        previous_address TEXT,
        removed_on TEXT,
        removal_reason TEXT,
        moved_out_to TEXT,
        nationality TEXT,
        residence_status TEXT,
        period_of_stay_until TEXT,
        residence_card_number TEXT,
        article_30_45 TEXT,
        support_until TEXT,
        support_measure TEXT,
        history TEXT NOT NULL,
        name_key TEXT NOT NULL,
        kana_key TEXT NOT NULL
    )""",
    "CREATE INDEX persons_household ON persons(household_id)",
    "CREATE INDEX persons_juminhyo_code ON persons(juminhyo_code)",
    "CREATE INDEX persons_my_number_tag ON persons(my_number_tag)",
    "CREATE INDEX persons_birth ON persons(birth_date, sex)",
    # Folded name keys (full name, kana, family, given, alias, 旧氏 ...), one row per distinct
    # key of a person. WITHOUT ROWID: the table is its own covering index, so a name search
    # with birth date / sex / 除票 filters never leaves it until the page of hits is fetched;
    # birth_date second in the key makes "name + birth date / year" an index range.
    """CREATE TABLE search_keys (
        key TEXT NOT NULL,
        person_id TEXT NOT NULL,
        kind INTEGER NOT NULL,
        removed INTEGER NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL,
        household_id TEXT NOT NULL,
        kana TEXT NOT NULL,
        PRIMARY KEY (key, birth_date, person_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX search_keys_person ON search_keys(person_id)",
    """CREATE TABLE operators (
        operator_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
    )""",
]

# Step 2 (v2): outbox, notices, issuances and their per-day counters.
_V2 = [
    """CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'rejected')),
        reason TEXT,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )""",
    "CREATE INDEX outbox_state ON outbox(state, seq)",
    """CREATE TABLE notices (
        event_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        reason TEXT,
        at TEXT NOT NULL,
        acknowledged INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE issuance_counters (
        terminal_no TEXT NOT NULL,
        day TEXT NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (terminal_no, day)
    )""",
    """CREATE TABLE issuances (
        issuance_no TEXT PRIMARY KEY,
        day TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        operator_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        household_id TEXT NOT NULL,
        person_ids TEXT NOT NULL,
        copies INTEGER NOT NULL,
        fee_yen INTEGER NOT NULL,
        requester_kind TEXT NOT NULL,
        id_document TEXT,
        content_digest TEXT NOT NULL,
        voided INTEGER NOT NULL DEFAULT 0,
        void_reason TEXT,
        voided_at TEXT,
        event_id TEXT
    )""",
    "CREATE INDEX issuances_day ON issuances(day)",
]

# Step 3 (v3): the audit chain (written by app/store/audit.py, same transactions as the rest).
_V3 = [
    """CREATE TABLE audit_entries (
        seq INTEGER PRIMARY KEY,
        entry_id TEXT UNIQUE,
        at TEXT,
        operator_id TEXT,
        terminal_no TEXT,
        action TEXT,
        target_ids TEXT,
        reason TEXT,
        prev_hash TEXT,
        hash TEXT,
        signature BLOB,
        pushed INTEGER DEFAULT 0
    )""",
    "CREATE INDEX audit_entries_pushed ON audit_entries(pushed, seq)",
]

# Step 4 (v4): covering indexes, so that a search reads index pages only and never the wide
# household and person rows (each page read from disk costs a decryption): name keys by
# household ("name + address" walks the households of the address and seeks each one's keys);
# addresses carrying the household_id; the columns of a search hit by person_id and
# household_id; birth date and household with what ranking needs.
_V4 = [
    "CREATE INDEX search_keys_household ON search_keys(household_id, key)",
    "DROP INDEX households_address_key",
    "CREATE INDEX households_address_key ON households(address_key, household_id)",
    "DROP INDEX households_katagaki_key",
    "CREATE INDEX households_katagaki_key ON households(katagaki_key, household_id)",
    """CREATE INDEX households_hit
        ON households(household_id, address_key, katagaki_key, address, katagaki)""",
    """CREATE INDEX persons_hit ON persons(person_id, household_id, name, name_kana, birth_date,
        sex, status, support_until, relationship)""",
    "DROP INDEX persons_birth",
    """CREATE INDEX persons_birth
        ON persons(birth_date, sex, status, kana_key, household_id, person_id)""",
    "DROP INDEX persons_household",
    """CREATE INDEX persons_household
        ON persons(household_id, status, kana_key, birth_date, sex, person_id)""",
]

# Step 5 (v5): the address keys on every name key, with (key, address) indexes: "name +
# address" becomes an index range even when both are broad (a common family name and a whole
# 町) — at a million persons neither the name rows nor the households of a 町 are few.
_V5 = [
    "ALTER TABLE search_keys ADD COLUMN address_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE search_keys ADD COLUMN katagaki_key TEXT",
    """UPDATE search_keys SET address_key = h.address_key, katagaki_key = h.katagaki_key
        FROM households h WHERE h.household_id = search_keys.household_id""",
    "CREATE INDEX search_keys_address ON search_keys(key, address_key)",
    """CREATE INDEX search_keys_katagaki ON search_keys(key, katagaki_key)
        WHERE katagaki_key IS NOT NULL""",
]

# Step 6 (v6): a leaner write path, for the initial sync of a million persons (docs/store.md).
# - persons keeps only what search, lookups and the change feed need; every other item lives
#   in the household's raw JSON, which is what `Cache.household()` reads anyway. The wide
#   columns (history, 本籍, the plain 個人番号, the person's 版数 ...) were written for every
#   person and never read; without them a change that only adds a 記事 leaves the row as it
#   was. persons_hit stays: without it a search hit reads two pages instead of one (measured at
#   1,000,000 persons: p95 ratio to plain SQLite 1.16–1.39 without it).
# - Each person carries its name keys (`key_list`, a JSON object key → kind): the key rows of a
#   person who changes are deleted through the primary key (key, birth_date, person_id), so the
#   indexes of search_keys by person and by household (a quarter of the file, and of the work
#   of every insert) go. The "name + address" plan that walked households ended with v5;
#   "name + 住民票コード" checks the one candidate's key list.
# - An initial sync loads in bulk (app/store/residents.py): households and persons are
#   appended without their secondary indexes, and the name keys are derived from key_list in
#   one sorted pass at the end.
_V6 = [
    """CREATE TABLE persons_v6 (
        person_id TEXT PRIMARY KEY,
        household_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        juminhyo_code TEXT NOT NULL,
        my_number_tag BLOB,
        status TEXT NOT NULL,
        name TEXT NOT NULL,
        name_kana TEXT NOT NULL,
        birth_date TEXT NOT NULL,
        sex TEXT NOT NULL,
        relationship TEXT NOT NULL,
        support_until TEXT,
        name_key TEXT NOT NULL,
        kana_key TEXT NOT NULL,
        key_list TEXT NOT NULL
    )""",
    """INSERT INTO persons_v6 SELECT person_id, household_id, ord, juminhyo_code, my_number_tag,
        status, name, name_kana, birth_date, sex, relationship, support_until,
        name_key, kana_key, coalesce((SELECT json_group_object(k.key, k.kind) FROM search_keys k
        WHERE k.person_id = persons.person_id), '{}') FROM persons ORDER BY rowid""",
    "DROP TABLE persons",
    "ALTER TABLE persons_v6 RENAME TO persons",
    "CREATE INDEX persons_juminhyo_code ON persons(juminhyo_code)",
    "CREATE INDEX persons_my_number_tag ON persons(my_number_tag)",
    """CREATE INDEX persons_hit ON persons(person_id, household_id, name, name_kana, birth_date,
        sex, status, support_until, relationship)""",
    """CREATE INDEX persons_birth
        ON persons(birth_date, sex, status, kana_key, household_id, person_id)""",
    """CREATE INDEX persons_household
        ON persons(household_id, status, kana_key, birth_date, sex, person_id)""",
    "DROP INDEX search_keys_person",
    "DROP INDEX search_keys_household",
]

# Step 7 (v7): the address moves from the name keys to the persons row (docs/store.md).
# v5 put the household's address keys on every name key (about six per person) with a
# (key, address) index, so a move rewrote some 14 key rows and twice as many index entries:
# 36 pages per household moved, most of a delta's writes at a million persons, and two indexes
# of six million entries to build at the end of an initial sync. Now each person carries the
# address keys, and "name + address" walks the persons of the address in one covering index
# (persons_address: with the ranking columns and key_list, matched in place), or, when the
# address covers more persons than ADDRESS_SCAN, the name keys with a per-candidate check of
# the household's address (app/store/search.py). A move rewrites the members' rows and their
# entries in one index.
# An initial sync interrupted in bulk mode kept the SQL of the dropped indexes in
# meta.bulk_indexes: the two indexes that this step removes leave that list.
_V7 = [
    "DROP INDEX IF EXISTS search_keys_address",
    "DROP INDEX IF EXISTS search_keys_katagaki",
    """UPDATE meta SET v = (SELECT json_group_array(value) FROM json_each(meta.v)
        WHERE value NOT LIKE '%INDEX search_keys_address %'
        AND value NOT LIKE '%INDEX search_keys_katagaki %') WHERE k = 'bulk_indexes'""",
    "ALTER TABLE search_keys DROP COLUMN address_key",
    "ALTER TABLE search_keys DROP COLUMN katagaki_key",
    "ALTER TABLE persons ADD COLUMN address_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE persons ADD COLUMN katagaki_key TEXT",
    """UPDATE persons SET address_key = h.address_key, katagaki_key = h.katagaki_key
        FROM households h WHERE h.household_id = persons.household_id""",
    """CREATE INDEX persons_address
        ON persons(address_key, status, kana_key, birth_date, sex, person_id, key_list)""",
    """CREATE INDEX persons_katagaki
        ON persons(katagaki_key, status, kana_key, birth_date, sex, person_id, key_list)
        WHERE katagaki_key IS NOT NULL""",
    # An address alone is walked in persons_address too: the households' address indexes,
    # two more entries to move at every move, have no reader left.
    "DROP INDEX IF EXISTS households_address_key",
    "DROP INDEX IF EXISTS households_katagaki_key",
    """UPDATE meta SET v = (SELECT json_group_array(value) FROM json_each(meta.v)
        WHERE value NOT LIKE '%INDEX households_address_key %'
        AND value NOT LIKE '%INDEX households_katagaki_key %') WHERE k = 'bulk_indexes'""",
]

# v8: a terminal's revocation is kept per terminal number (meta "terminal_revoked:<no>").
# Until v7 one flag held the state of whichever terminal's item came last in the feed, which is
# the same for every terminal: revoking one terminal stopped the offline login of all others.
# That flag cannot be attributed and goes; a terminal that saw its own revocation was wiped or
# locked by app/services/revocation.py at that sync, and the server refuses it (403) online.
_V8 = ["DELETE FROM meta WHERE k = 'terminal_revoked'"]

# v9 (issue 19): an issuance records who asked (the requester as a person, documents), the
# 請求事由, the article it was decided under, and how it left: at the counter or by mail to
# the subject's address as registered then (frozen here). JSON texts in the wire format of
# app.sync.protocol (RequesterInfo, PurposeInfo, MailToInfo). The partial index finds the
# active 支援措置 (a few hundred rows) without reading a million persons.
_V9 = [
    "ALTER TABLE issuances ADD COLUMN requester TEXT",
    "ALTER TABLE issuances ADD COLUMN purpose TEXT",
    "ALTER TABLE issuances ADD COLUMN rule TEXT",
    "ALTER TABLE issuances ADD COLUMN delivery TEXT NOT NULL DEFAULT 'counter'",
    "ALTER TABLE issuances ADD COLUMN mail_to TEXT",
    "CREATE INDEX persons_support ON persons(support_until) WHERE support_until IS NOT NULL",
]

# v10 (issue 20): the 住民異動届 filed at this terminal (app/store/notifications.py): the
# clerk's list, the head office's decision when it arrives on the feed (state, reason), whether
# the clerk has seen it. The outbox carries the event itself (type notification_filed).
_V10 = [
    """CREATE TABLE notifications (
        notification_id TEXT PRIMARY KEY,
        procedure TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'conflict', 'confirmed', 'returned')),
        filed_at TEXT NOT NULL,
        operator_id TEXT NOT NULL,
        draft TEXT NOT NULL,
        form_digest TEXT NOT NULL,
        move_out_certificate_no TEXT,
        decided_at TEXT,
        decided_by TEXT,
        reason TEXT,
        decision TEXT,
        seen INTEGER NOT NULL DEFAULT 1
    )""",
    "CREATE INDEX notifications_filed ON notifications(filed_at)",
    "CREATE INDEX notifications_unseen ON notifications(seen) WHERE seen = 0",
]

# v11 (issue 21): supervisor approvals as one-time tokens (granted at approval, consumed in the
# issuance's transaction: one approval, one certificate); the outbox learns to set aside an
# event that keeps failing with 5xx or unreadable answers (attempts, next_attempt_at, state
# 'quarantined') so that it never blocks the events behind it. SQLite cannot change a CHECK:
# the outbox is rebuilt with its rows and sequence.
_V11 = [
    """CREATE TABLE approvals (
        approval_id TEXT PRIMARY KEY,
        approver_id TEXT NOT NULL,
        operator_id TEXT NOT NULL,
        granted_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        token TEXT NOT NULL,
        consumed_at TEXT,
        issuance_no TEXT UNIQUE
    )""",
    """CREATE TABLE outbox_v11 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id TEXT NOT NULL UNIQUE,
        type TEXT NOT NULL,
        body TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending'
            CHECK (state IN ('pending', 'rejected', 'quarantined')),
        reason TEXT,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT
    )""",
    """INSERT INTO outbox_v11(seq, event_id, type, body, state, reason, added_at, updated_at)
        SELECT seq, event_id, type, body, state, reason, added_at, updated_at FROM outbox""",
    # The sequence goes on from where the old table's was (a deleted event's seq is not reused).
    "DELETE FROM sqlite_sequence WHERE name = 'outbox_v11'",
    """INSERT INTO sqlite_sequence(name, seq)
        SELECT 'outbox_v11', seq FROM sqlite_sequence WHERE name = 'outbox'""",
    "DROP TABLE outbox",
    "ALTER TABLE outbox_v11 RENAME TO outbox",
    "CREATE INDEX outbox_state ON outbox(state, seq)",
]


# v12 (issue 17): a reprint is a void + a new issuance (app.services.issuance.reissue): the new
# one names the 交付番号 it replaces, at most one replacement per issuance. And the address keys
# become app.domain.addresses.search_key (「3丁目6番19号」
# and 「3-6-19」 alike, kanji numerals before 条・丁目・番・号 as digits) instead of address_key:
# recomputed for every household, then copied to its persons (whose covering indexes the
# search walks). `migrate` gives the steps the fold as the SQL function madoguchi_search_key.
_V12 = [
    "ALTER TABLE issuances ADD COLUMN replaces TEXT",
    "CREATE UNIQUE INDEX issuances_replaces ON issuances(replaces) WHERE replaces IS NOT NULL",
    """UPDATE households SET address_key = madoguchi_search_key(address),
        katagaki_key = CASE WHEN katagaki IS NULL OR katagaki = '' THEN NULL
                            ELSE madoguchi_search_key(katagaki) END""",
    """UPDATE persons SET address_key = h.address_key, katagaki_key = h.katagaki_key
        FROM households h WHERE h.household_id = persons.household_id
        AND (persons.address_key IS NOT h.address_key
             OR persons.katagaki_key IS NOT h.katagaki_key)""",
]

MIGRATIONS: Sequence[Sequence[str]] = (
    _V1, _V2, _V3, _V4, _V5, _V6, _V7, _V8, _V9, _V10, _V11, _V12
)  # fmt: skip
LATEST_VERSION = len(MIGRATIONS)


def migrate(conn: Any, upto: int = LATEST_VERSION) -> int:
    """Apply the missing steps up to `upto`; returns the version reached.

    `conn` is a DB-API connection in autocommit mode (isolation_level=None); each step runs in
    its own BEGIN IMMEDIATE … COMMIT with the user_version bump.
    """
    current = int(conn.execute("PRAGMA user_version").fetchone()[0])
    # The domain's pure folds, for the steps that recompute stored keys (v12).
    conn.create_function("madoguchi_search_key", 1, search_key, deterministic=True)
    for step in range(current, upto):
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {step + 1}")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return max(current, upto)
