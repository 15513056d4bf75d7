"""Encrypted local cache (SQLCipher), key slots and search. See docs/store.md.

Public entry points: app.store.db (create_cache, open_cache, Cache, wipe), app.store.keys
(generate_dek, DeviceSecret, KeySlots), app.store.search (SearchQuery, SearchHit, SearchPage),
app.store.errors. app/store/audit.py (the audit chain) belongs to the audit work.
"""
