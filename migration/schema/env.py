"""Alembic environment of the target schema, driven by :mod:`migration.schema.api`.

There is no ``alembic.ini``: the library builds the :class:`alembic.config.Config` in
code and hands over, in ``config.attributes``,

- ``connection``: an open SQLAlchemy connection inside a transaction (online mode), so
  the whole upgrade or downgrade is one transaction and the caller owns connecting,
  error translation and redaction;
- ``sql_buffer``: where offline (``--sql``) mode writes the DDL.

Nothing here prints or reads a URL.
"""

from __future__ import annotations

from typing import Any

from alembic import context

from migration.schema.compare import comparison_options

config = context.config

# the same filters as `schema check`, so an autogenerate draft sees only our schemas
_COMMON: dict[str, Any] = comparison_options()


def run_migrations_offline() -> None:
    context.configure(
        dialect_name="postgresql",
        output_buffer=config.attributes["sql_buffer"],
        literal_binds=True,
        **_COMMON,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "this Alembic environment is driven by migration.schema.api "
            "(safestats-migrate schema …), not by the alembic command line"
        )
    context.configure(connection=connection, **_COMMON)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
