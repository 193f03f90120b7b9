"""Database access: the read-only legacy source, the PostgreSQL target, dialect helpers."""
