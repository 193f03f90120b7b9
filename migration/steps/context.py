"""The typed context of one run: settings, console, the stage specs, the engines (opened on
first use), the fault hook of the kill tests and the per-phase timings.

Every step (load, the reconciliation gate, delta, rollback) takes this one object instead
of a runner passed around as ``Any``; the reconciliation gate reads it through its own
protocol (:class:`migration.reconcile.gate.GateContext`), so reconciliation never imports
the loader.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.engine import Engine

from migration import faults
from migration.console import Console
from migration.db.engines import check_connect, source_engine, target_engine
from migration.db.source import SourceReader, Throttle
from migration.errors import StageError
from migration.mapping.loader import files_hash
from migration.mapping.order import validated_specs
from migration.mapping.spec import StageSpec
from migration.refdata import refdata_version
from migration.settings import Settings


class RunContext:
    """What every step of a run needs.  Building it validates the mapping files in full
    (:class:`~migration.errors.MappingError` with every problem): an invalid mapping never
    starts a run."""

    def __init__(self, settings: Settings, console: Console, *, fault: Callable[..., None] | None = None,
                 reconcile: bool = True, strict: bool = False) -> None:
        self.settings = settings
        self.console = console
        #: False: `run --no-reconcile` (the skip is recorded)
        self.reconcile = reconcile
        #: `run --strict`: refuse (instead of warn) when the package version differs from the one
        #: that loaded the stage (:func:`migration.steps.delta.check_tool_version`)
        self.strict = strict
        self.fault = fault or faults.hook()
        #: set by the orchestrator while it holds the migration lock: checks (and after a dropped
        #: session re-takes) the lock before a chunk is written — :meth:`MigrationLock.ensure`
        self.lock_guard: Callable[[], None] | None = None
        specs, files = validated_specs(settings.mappings_dir)
        #: every stage, in the one run order (:func:`migration.mapping.order.stage_order`)
        self.specs: list[StageSpec] = specs
        self.mapping_hash = files_hash(files)
        self.refdata_version = refdata_version()
        self._target: Engine | None = None
        self._source: Engine | None = None
        self._throttle: Throttle | None = None
        self.timings: dict[tuple[str, str], dict[str, float]] = {}

    @property
    def target(self) -> Engine:
        if self._target is None:
            self._target = target_engine(self.settings.require_target())
            check_connect(self._target, role="target")
            with self._target.connect() as c:
                c.execute(text("SELECT 1"))
        return self._target

    @property
    def source(self) -> Engine:
        if self._source is None:
            self._source = source_engine(self.settings.require_source())
            check_connect(self._source, role="source")
        return self._source

    def reader(self) -> SourceReader:
        """A reader of the legacy for this run: one throttle (``max_rows_per_second``) shared by every
        read of the run, dropped reads retried with a warning on the run's console."""
        reader = SourceReader(self.source)
        if self.settings.max_rows_per_second:
            if self._throttle is None:
                self._throttle = Throttle(self.settings.max_rows_per_second)
            reader.throttle = self._throttle
        reader.on_retry = self.console.warn
        return reader

    def spec(self, stage: str) -> StageSpec:
        for s in self.specs:
            if s.stage == stage:
                return s
        raise StageError(f"unknown stage {stage}", hint=f"stages are: {', '.join(s.stage for s in self.specs)}")

    def close(self) -> None:
        for e in (self._target, self._source):
            if e is not None:
                e.dispose()
        self._target = self._source = None


__all__ = ["RunContext"]
