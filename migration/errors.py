"""One exception root for everything the tool reports to a person.

Every error says *what* went wrong, *where* (file:line, table, stage, chunk…) and
*what to do next*.  Only the CLI catches these (``migration.cli.main``); library code
raises them and never prints.
"""

from __future__ import annotations

#: the exit codes of every command (the table in runbooks/README.md and the design notes)
EXIT_OK = 0
EXIT_FAILED = 1        # a check failed, or work was refused for a data reason (invalid mapping/check files…)
EXIT_USAGE = 2         # usage or settings: unknown stage/reason/run/key, bad option or --format, a password
EXIT_NOT_READY = 3     # a database unreachable, or not in the state the command needs; verdict INCOMPLETE
EXIT_LOCKED = 4        # the migration lock is held by someone else — and nothing else
EXIT_BUG = 70          # a bug (EX_SOFTWARE)
EXIT_INTERRUPTED = 130  # Ctrl-C or SIGTERM, stopped at a chunk boundary


class SafeStatsError(Exception):
    """Root of every error the CLI turns into one clear line and an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, what: str, *, where: str | None = None, hint: str | None = None) -> None:
        self.what = what
        self.where = where
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        parts = [self.what]
        if self.where:
            parts.append(f"(at {self.where})")
        line = " ".join(parts)
        if self.hint:
            line += f" — {self.hint}"
        return line


class UsageError(SafeStatsError):
    """The command was asked for something that does not exist or cannot be combined (exit 2)."""

    exit_code = EXIT_USAGE


class UnknownNameError(UsageError):
    """An unknown stage, reason, run or key; the message lists the valid ones."""


class SettingsError(UsageError):
    """Configuration is missing, contradictory or unsafe (e.g. a password on a command line)."""


class SourceError(SafeStatsError):
    """The legacy database cannot be reached or read as expected."""

    exit_code = EXIT_NOT_READY


class TargetError(SafeStatsError):
    """The PostgreSQL target cannot be reached, or is not in the state a command needs."""

    exit_code = EXIT_NOT_READY


class ConnectionLost(TargetError):
    """A database connection dropped and did not come back within the retries (exit 3); the message
    names the stage, table and chunk in flight and the cause; the same command resumes."""


class TargetFull(TargetError):
    """The target ran out of a resource (SQLSTATE class 53: disk full, out of memory, too many
    connections): what was being written is rolled back whole; free it and run the same command."""

    @staticmethod
    def hint_then(then: str) -> str:
        """What to do, the one wording for every place that stops on a full target: free space, then ``then``."""
        return f"free space on the target's data disk (runbooks/incident-disk-full.md), then {then}"


def out_of_resources(exc: BaseException) -> bool:
    """A driver error with SQLSTATE class 53 (insufficient resources), e.g. 53100 disk full."""
    code = getattr(getattr(exc, "orig", exc), "pgcode", None) or ""
    return code.startswith("53")


class SchemaError(TargetError):
    """An Alembic schema operation was refused or failed."""


class SchemaUsageError(SchemaError):
    """A schema command asked for something that cannot be: no or a non-PostgreSQL target, an unknown
    revision, an offline downgrade without its start (exit 2, a usage error)."""

    exit_code = EXIT_USAGE


class GeneratorError(SafeStatsError):
    """The synthetic legacy generator was asked for something it cannot do."""


class GeneratorUsageError(GeneratorError):
    """An option of `legacy generate/advance` out of range, or a manifest path missing or wrong (exit 2)."""

    exit_code = EXIT_USAGE


class MappingError(SafeStatsError):
    """One or more mapping files are invalid; ``problems`` holds every one of them."""

    def __init__(self, problems: list[str], *, hint: str | None = None) -> None:
        self.problems = list(problems)
        if len(self.problems) == 1:
            what = f"1 problem(s) in the mapping files: {self.problems[0]}"
        else:
            what = f"{len(self.problems)} problem(s) in the mapping files (listed above)"
        super().__init__(what, hint=hint or "fix them; `safestats-migrate mappings validate` checks the files again")


class LockError(SafeStatsError):
    """Another migration process holds the target's migration lock."""

    exit_code = EXIT_LOCKED


class Interrupted(SafeStatsError):
    """Ctrl-C or SIGTERM: the command stopped at a chunk boundary; the message says what was committed."""

    exit_code = EXIT_INTERRUPTED


class StageError(SafeStatsError):
    """A stage stopped; the message names the stage, table, chunk and row."""


class CheckFailed(SafeStatsError):
    """Reconciliation ran and at least one check failed."""

    exit_code = EXIT_FAILED


class ChecksCouldNotRun(SafeStatsError):
    """Reconciliation could not run at all."""

    exit_code = EXIT_NOT_READY


class MigrationIncomplete(SafeStatsError):
    """The verdict is INCOMPLETE: a planned stage is not loaded and reconciled (nothing failed)."""

    exit_code = EXIT_NOT_READY


class CutoverDone(SafeStatsError):
    """The cutover went ahead (``cutover go``): the target is the live database now, and the
    migration no longer writes to it or undoes its runs (refused for a data reason, exit 1)."""

    exit_code = EXIT_FAILED
