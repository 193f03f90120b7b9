"""Operating the transition: ``status``, quarantine decisions and (later) the cutover.

Library functions only (they never print); the CLI commands are thin over them.  Every
ledger read or write goes through :mod:`migration.ledger`."""
