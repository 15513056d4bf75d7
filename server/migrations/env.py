"""Alembic environment: migrations run programmatically on a connection we hand in."""

from __future__ import annotations

from alembic import context

from server.tables import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only programmatic use is supported
    raise RuntimeError("madoguchi-server runs migrations itself (init / serve)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
