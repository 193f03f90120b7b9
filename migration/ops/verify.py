"""``report verify``: recompute the ledger's digest chain and check a report's recorded head.

The chain (:mod:`migration.ledger.seal`) shows any ledger row changed or deleted after its
seal; a report's ``ledger_head`` (the last seal when it was written, kept outside the
database) must still be a link of it, which shows seals removed or rewritten since.  Rows
written after the last seal are allowed and counted; rows a killed command left unsealed
and a later command sealed (*catch-up* seals) are listed, not treated as tampering.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from migration.errors import SafeStatsError, TargetError, UsageError
from migration.ledger import Ledger
from migration.ledger import seal as ledger_seal
from migration.ledger.seal import Verification


class LedgerTampered(SafeStatsError):
    """A sealed ledger row, or a seal, differs from what was sealed (exit 1: the check failed)."""


@dataclass
class VerifyOutcome:
    result: Verification
    report: Path | None                     # the report.json whose head was checked
    report_head: tuple[int, str] | None     # what it records
    notes: list[str]
    failure: SafeStatsError | None = None


def report_head(folder_or_file: Path) -> tuple[Path, tuple[int, str] | None]:
    """The report.json of a report folder (or the file itself) and the chain head it records
    (``None`` for a report written before the first seal or by a version without seals)."""
    path = folder_or_file / "report.json" if folder_or_file.is_dir() else folder_or_file
    try:
        data = json.loads(path.read_bytes())
        head = data.get("ledger_head")
        if head is None:
            return path, None
        return path, (int(head["seal_id"]), str(head["digest"]))
    except FileNotFoundError as exc:
        raise UsageError(f"no report.json in {folder_or_file}",
                         hint="give the folder `safestats-migrate report` wrote (--out)") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is not a report this tool wrote (its ledger_head is unreadable)") from exc


def verify(engine: Engine, report: Path | None = None) -> VerifyOutcome:
    """Check the chain over the ledger as it is now, and ``report``'s recorded head if given."""
    notes: list[str] = []
    path, anchor = (None, None) if report is None else report_head(report)
    if path is not None and anchor is None:
        notes.append(f"{path} records no chain head (written before the first seal, or by a version without "
                     f"seals): only the chain itself is checked")
    Ledger(engine).require_installed()
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        if not ledger_seal.installed(conn):
            raise TargetError("the ledger has no seal tables (ledger revision l0008)",
                              hint="`safestats-migrate schema upgrade`")
        result = ledger_seal.verify(conn, anchor)
    outcome = VerifyOutcome(result, path, anchor, notes)
    if result.problems:
        first = result.problems[0]
        more = len(result.problems) - 1
        outcome.failure = LedgerTampered(
            first.line() + (f" ({more:,} more difference(s))" if more else ""),
            hint="the ledger was changed outside safestats-migrate after it was sealed: keep the target as it "
                 "is, compare with a backup and see runbooks/report.md (Verifying the ledger)")
    return outcome


__all__ = ["LedgerTampered", "VerifyOutcome", "report_head", "verify"]
