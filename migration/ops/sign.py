"""``report sign``: append a sign-off record for a report to the ledger.

The record names the signer (name and role as given, and the OS user@host that ran the
command), the time, the SHA-256 of the report's ``report.json`` and the verdict it shows.
It is a ledger record, not a cryptographic signature; the ledger is sealed right after
(:mod:`migration.ledger.seal`), so a signature changed later shows in ``report verify``.
Signing is refused while the report's verdict is not PASS or PASS_WITH_ACCEPTED, or while
quarantined rows are undecided, unless ``incomplete`` (which the record keeps, so the
signature shows it).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Engine

from migration.errors import SafeStatsError, TargetError, UsageError
from migration.ledger import Ledger, decisions, signatures
from migration.ledger import seal as ledger_seal
from migration.ledger.books import actor as os_actor
from migration.ledger.signatures import Signature

#: verdicts a report may be signed on without --incomplete
SIGNABLE = ("PASS", "PASS_WITH_ACCEPTED")


class SignRefused(SafeStatsError):
    """The report may not be signed as it stands (exit 1: refused for a data reason)."""


@dataclass(frozen=True)
class ReportFile:
    path: Path              # the report.json
    sha256: str
    verdict: str
    generated_at: str


def read_report(folder_or_file: Path) -> ReportFile:
    """The report.json of a report folder (or the file itself): its digest and verdict."""
    path = folder_or_file / "report.json" if folder_or_file.is_dir() else folder_or_file
    try:
        raw = path.read_bytes()
        data = json.loads(raw)
        verdict = str(data["verdict"]["status"])
        generated = str(data["generated_at"])
    except FileNotFoundError as exc:
        raise UsageError(f"no report.json in {folder_or_file}",
                         hint="give the folder `safestats-migrate report` wrote (--out)") from exc
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path} is not a report this tool wrote (no verdict or generated_at)") from exc
    return ReportFile(path, hashlib.sha256(raw).hexdigest(), verdict, generated)


def sign(engine: Engine, report: ReportFile, *, name: str, role: str, incomplete: bool = False,
         who: str | None = None) -> Signature:
    """Append the signature; refused (SignRefused) while the verdict is not signable or
    quarantine is undecided, unless ``incomplete``."""
    name, role = " ".join(name.split()), " ".join(role.split())
    if not name or not role:
        raise UsageError("a signature needs a name (--name) and a role (--as)")
    Ledger(engine).require_installed()
    # rows a killed command left unsealed are sealed as such first; the signature is sealed after
    ledger_seal.seal_pending(engine, command="report sign", catch_up=True)
    with engine.begin() as conn:
        if not signatures.installed(conn):
            raise TargetError("the ledger has no signature table", hint="`safestats-migrate schema upgrade`")
        undecided = decisions.undecided_open(conn)
        problems = []
        if report.verdict not in SIGNABLE:
            problems.append(f"the report's verdict is {report.verdict}")
        if undecided:
            problems.append(f"{undecided:,} quarantined row(s) are undecided")
        if problems and not incomplete:
            raise SignRefused(
                f"refusing to sign {report.path}: " + "; ".join(problems),
                hint="settle them (`safestats-migrate quarantine decide`, `reconcile`), write a new report, or "
                     "sign with --incomplete, which the signature records")
        signature = signatures.record(conn, name=name, role=role, actor=who or os_actor(),
                                      report_sha256=report.sha256, report_path=str(report.path),
                                      verdict=report.verdict, incomplete=bool(problems) and incomplete)
    ledger_seal.seal_pending(engine, command="report sign")
    return signature


__all__ = ["SIGNABLE", "ReportFile", "SignRefused", "read_report", "sign"]
