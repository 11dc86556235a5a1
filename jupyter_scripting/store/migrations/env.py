"""Alembic environment of the script store.

The store runs the migrations itself (``Store.start()``): it builds an
``alembic.config.Config`` in code and shares its open connection through
``config.attributes["connection"]``. Without one (e.g. the ``alembic`` command line
with ``-x url=...`` or a ``sqlalchemy.url`` option) a connection is made from the URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool
from sqlalchemy.engine import Connection

from jupyter_scripting.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str | None:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations go through batch mode.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit the SQL to stdout (``alembic upgrade head --sql``)."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate through the shared connection (or one made from the URL)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    url = _url()
    if not url:
        raise RuntimeError("No connection shared and no database URL (-x url=...) given.")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            _configure(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
