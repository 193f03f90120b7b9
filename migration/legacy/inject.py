"""Where anomalies go: exact counts spread evenly over a table, in one streaming pass.

For a kind that should hit ``k`` of ``n`` rows, the rows are cut into ``k`` strata of
``n / k`` consecutive rows and one random row of each stratum carries the kind.  The
count is therefore exact (good for small test scales, where a Bernoulli draw would often
give zero), the rows are spread over the whole time span, and the schedule needs memory
for one pending position per kind, whatever ``n`` is.

A generator may find that a kind cannot be applied to the row it was given (say, a DST
hour that is not inside the row's batch period); it then calls :meth:`Injector.retry`
and the kind moves to the next row.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterable, Mapping
from typing import Any


def target_count(rate: float, n: int, minimum: int) -> int:
    """How many of ``n`` rows a kind of the given rate should hit (never more than n/4)."""
    if n <= 0 or rate <= 0:
        return 0
    k = max(minimum, round(rate * n))
    return min(k, max(1, n // 4))


def rate_targets(rates: Mapping[str, tuple[float, int]], n: int, rng: random.Random | None = None,
                 skip: Iterable[str] = ()) -> dict[str, int]:
    """Targets for every kind of ``rates`` (kind → (rate, minimum)) over ``n`` rows.

    Without ``rng``: :func:`target_count`, minimums included (a generated database holds
    every kind even at tiny scales).  With ``rng`` (``legacy advance``): the rate alone,
    rounded up or down at random so the expected count is exact (a few days of activity
    are as clean or as dirty as the real feed, not saturated with minimums)."""
    skipped = set(skip)
    out: dict[str, int] = {}
    for kind in sorted(rates):
        rate, minimum = rates[kind]
        if kind in skipped:
            out[kind] = 0
        elif rng is None:
            out[kind] = target_count(rate, n, minimum)
        else:
            want = rate * n
            k = int(want) + (1 if rng.random() < want - int(want) else 0)
            out[kind] = min(k, max(1, n // 4)) if n > 0 else 0
    return out


class Injector:
    def __init__(self, seed: str, n: int, targets: Mapping[str, int],
                 spans: Mapping[str, float] | None = None, offset: int = 0) -> None:
        """``spans`` limits a kind to the first fraction of the rows (for kinds that need
        something later rows may lack, e.g. a DST date after the row's load date);
        ``offset`` is the index of the first row (rows already in the table)."""
        self._rng = random.Random(seed)
        self._offset = offset
        self._n = max(n, 1)
        self._span = {kind: max(1, int(self._n * f)) for kind, f in (spans or {}).items()}
        self._heap: list[tuple[int, int, str, int, int]] = []
        self._seq = 0
        for kind in sorted(targets):
            k = targets[kind]
            if k > 0:
                self._push_stratum(kind, 0, min(k, self._span.get(kind, self._n)))
        self.next_pos = self._heap[0][0] if self._heap else 1 << 62

    def _push_stratum(self, kind: str, j: int, k: int) -> None:
        width = self._span.get(kind, self._n) / k
        pos = self._offset + int((j + self._rng.random()) * width)
        self._seq += 1
        heapq.heappush(self._heap, (pos, self._seq, kind, j, k))

    def due(self, i: int) -> list[str]:
        """The kinds due at row ``i`` (call when ``i >= next_pos``)."""
        out: list[str] = []
        heap = self._heap
        while heap and heap[0][0] <= i:
            _, _, kind, j, k = heapq.heappop(heap)
            if kind not in out:
                out.append(kind)
            else:  # two strata of one kind met on one row (after retries): keep the second for later
                self._seq += 1
                heapq.heappush(heap, (i + 1, self._seq, kind, -1, k))
            if j >= 0 and j + 1 < k:
                self._push_stratum(kind, j + 1, k)
        self.next_pos = heap[0][0] if heap else 1 << 62
        return out

    def retry(self, kind: str, i: int) -> None:
        """``kind`` could not be applied at row ``i``: try again on the next row."""
        self._seq += 1
        heapq.heappush(self._heap, (i + 1, self._seq, kind, -1, 0))
        self.next_pos = self._heap[0][0]

    def retry_all(self, kinds: Iterable[str], i: int) -> None:
        for kind in kinds:
            self.retry(kind, i)

    def pending(self) -> list[str]:
        """Kinds still scheduled (after the last row: those that never found a row)."""
        return sorted({entry[2] for entry in self._heap})


def exclusive(kinds: list[str], group: tuple[str, ...], injector: Injector, i: int) -> str | None:
    """Keep at most one kind of ``group`` on row ``i``; the others move to the next row."""
    chosen: str | None = None
    for kind in kinds:
        if kind in group:
            if chosen is None:
                chosen = kind
            else:
                injector.retry(kind, i)
    return chosen


class Rotation:
    """Cycles through a list so that every spelling appears once the count allows it."""

    def __init__(self, items: tuple[Any, ...], start: int = 0) -> None:
        self._items = items
        self._i = start

    def next(self) -> Any:
        item = self._items[self._i % len(self._items)]
        self._i += 1
        return item
