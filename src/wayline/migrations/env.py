"""Alembic environment: migrations run on the connection the application hands over."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the app always passes its own connection
    raise RuntimeError("run migrations through wayline (Database.migrate), not the alembic CLI")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
