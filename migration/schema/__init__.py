"""The target schema: its model, its Alembic history (two branches) and their commands.

- :mod:`migration.schema.models` — the SQLAlchemy model at head (the contract);
- :mod:`migration.schema.roles` — the owner and application roles, the user setting;
- :mod:`migration.schema.api` — ``upgrade``, ``downgrade``, ``current``, ``history``, ``check``;
- ``env.py`` and ``versions/`` — the Alembic environment and revisions, shipped in the package.
"""
