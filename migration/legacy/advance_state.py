"""Where a legacy database stands before an advance (its latest times, highest keys and batches),
the tunable rates of an advance, and the small helpers its parts share (part of ``legacy advance``,
:mod:`migration.legacy.advance`)."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from migration.errors import GeneratorError
from migration.legacy import vocab
from migration.legacy.plan import SPECS
from migration.legacy.timeutil import from_ordinal
from migration.schema.legacy import TABLE_NAMES

MAX_DAYS = 3660
#: days between loads at the real cadence (span of the data / batches at scale 1)
CADENCE = {ds: (s.last - s.first).days / s.batches_at_scale_1 for ds, s in SPECS.items() if s.batches_at_scale_1}
#: the longest period one extract covers (a backlog is sent as several)
MAX_SPAN = {"MPS": 7, "LFB": 14, "LAS": 21, "TRANSPORT": 31}
ISTV_MONTHS = 90                     # months of ISTV data at scale 1 (2009-07 … 2016-12)
MPS_REVISED_SHARE = 0.12             # of rows are revised at some point (the generator's rate)
LAS_REVISED_SHARE = 0.08
MPS_NO_CRIME_SHARE = 0.004
LAS_DELETED_SHARE = 0.002
ROWCOUNT_OFF_SHARE = 0.02            # of OK batches claim a RowCount they did not load
LATE_WRITER_MAX_SECONDS = 1800
WINDOW_DAYS = 120                    # rows of the last ~4 months are "rolling months"
WINDOW_ROWS = (2000, 50_000)
NO_VALUE = frozenset(x.strip() for x in vocab.NO_VALUE_TEXTS) | {"NULL", "N/A", "-"}
_DT_FORMAT = "%Y-%m-%d %H:%M:%S"



# --------------------------------------------------------------------------- helpers
def dt_text(v: Any) -> str | None:
    """A datetime as the legacy text ``YYYY-MM-DD HH:MM:SS`` (whatever the driver returned)."""
    if v is None:
        return None
    if isinstance(v, datetime):
        return v.strftime(_DT_FORMAT)
    return str(v)[:19]


def split_dt(v: str) -> tuple[int, int]:
    d = datetime.strptime(v[:19], _DT_FORMAT)
    return d.date().toordinal(), d.hour * 3600 + d.minute * 60 + d.second


def parse_dmy(v: Any) -> int | None:
    if not isinstance(v, str):
        return None
    try:
        return datetime.strptime(v.strip(), "%d/%m/%Y").date().toordinal()
    except ValueError:
        return None


def stochastic(x: float, rng: random.Random) -> int:
    """``x`` rounded up or down at random, so that the expected value is ``x``."""
    k = int(x)
    return k + (1 if rng.random() < x - k else 0)


def _no_value(v: Any) -> bool:
    return isinstance(v, str) and v.strip().upper() in NO_VALUE


def _chunks(items: Sequence[Any], n: int = 500) -> Iterable[Sequence[Any]]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


# --------------------------------------------------------------------------- reading the state
@dataclass
class LogRow:
    batch_id: int
    dataset: str
    file_name: str
    loaded_on: str
    row_count: int | None
    status: str


@dataclass
class MpsRow:
    recid: int
    ref: str | None
    batch: int
    reported: str
    lastmod: str | None
    outcome: str | None


@dataclass
class State:
    counts: dict[str, int]
    log: dict[int, LogRow]
    now: str
    max_lastmod: str | None
    max_updated: str | None
    mps_max: int
    istv_max: int
    transport_max: int
    lfb_count: int
    las_max_index: int
    data_end: dict[str, int]
    istv_last: dict[int, int]                  # hospital → first day of its latest submitted month
    users: list[tuple[Any, ...]]               # UserID, Login, AllowedBoroughs, Password, LastLogin, Disabled


class Db:
    """Reads of the legacy tables, quoted for the engine at hand."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.q = conn.dialect.identifier_preparer.quote_identifier

    def cols(self, table: str, names: Iterable[str]) -> str:
        return ", ".join(self.q(n) for n in names)

    def rows(self, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
        return list(self.conn.execute(text(sql), params or {}).fetchall())

    def scalar(self, sql: str, params: dict[str, Any] | None = None) -> Any:
        return self.conn.execute(text(sql), params or {}).scalar()

    def done(self) -> None:
        """End the read transaction (planning is over; writes go through the sink)."""
        self.conn.rollback()

    def in_list(self, name: str, values: Sequence[Any]) -> tuple[str, dict[str, Any]]:
        params = {f"{name}{i}": v for i, v in enumerate(values)}
        return "(" + ", ".join(f":{k}" for k in params) + ")", params


def read_state(db: Db) -> State:
    q = db.q
    counts = {name: int(db.scalar(f"SELECT COUNT(*) FROM {q(name)}")) for name in TABLE_NAMES}
    log = {}
    for r in db.rows(f"SELECT {db.cols('tblImportLog', ('BatchID', 'Dataset', 'FileName', 'LoadedOn', 'RowCount', 'Status'))} "
                     f"FROM {q('tblImportLog')} ORDER BY {q('BatchID')}"):
        log[int(r[0])] = LogRow(int(r[0]), str(r[1]), str(r[2] or ""), dt_text(r[3]) or "", r[4], str(r[5]))

    def mx(table: str, col: str) -> str | None:
        return dt_text(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}"))

    max_lastmod, max_updated = mx("tblMPSCrime", "LastModified"), mx("tblLASAssault", "UpdatedOn")
    stamps = [s for s in (mx("tblImportLog", "LoadedOn"), max_lastmod, max_updated, mx("tblUser", "LastLogin")) if s]
    if not stamps:
        raise GeneratorError("the legacy database holds no load, revision or login time to continue from",
                             hint="generate it with `safestats-migrate legacy generate` first")

    def top(table: str, col: str) -> int:
        return int(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}") or 0)

    las_top = db.scalar(f"SELECT MAX(SUBSTR({q('LASRef')}, 6)) FROM {q('tblLASAssault')}")
    data_end: dict[str, int] = {}
    for ds, table, col in (("MPS", "tblMPSCrime", "ReportedDT"), ("LAS", "tblLASAssault", "CallDT")):
        v = dt_text(db.scalar(f"SELECT MAX({q(col)}) FROM {q(table)}"))
        data_end[ds] = split_dt(v)[0] if v else SPECS[ds].last.toordinal()
    for ds, table, col in (("LFB", "tblLFBIncident", "DateOfCall"), ("TRANSPORT", "tblTransportCrime", "CrimeDate")):
        c = q(col)
        latest = None
        for (v,) in db.rows(f"SELECT {c} FROM {q(table)} WHERE {c} LIKE '__/__/____' ORDER BY SUBSTR({c}, 7, 4) DESC, "
                            f"SUBSTR({c}, 4, 2) DESC, SUBSTR({c}, 1, 2) DESC LIMIT 50"):
            latest = parse_dmy(v)
            if latest is not None:
                break
        data_end[ds] = latest if latest is not None else SPECS[ds].last.toordinal()
    istv_last: dict[int, int] = {}
    for hid, pe in db.rows(f"SELECT {q('HospitalID')}, {q('PeriodEnd')} FROM {q('tblISTVAssault')} "
                           f"GROUP BY {q('HospitalID')}, {q('PeriodEnd')}"):
        d = parse_dmy(pe)
        if d is not None and hid is not None:
            first = from_ordinal(d).replace(day=1).toordinal()
            istv_last[int(hid)] = max(istv_last.get(int(hid), 0), first)
    users = [tuple(r) for r in db.rows(
        f"SELECT {db.cols('tblUser', ('UserID', 'Login', 'AllowedBoroughs', 'Password', 'LastLogin', 'Disabled'))} "
        f"FROM {q('tblUser')} ORDER BY {q('UserID')}")]
    return State(counts, log, max(stamps), max_lastmod, max_updated, top("tblMPSCrime", "RecID"),
                 top("tblISTVAssault", "ISTVID"), top("tblTransportCrime", "RecID"), counts["tblLFBIncident"],
                 int(las_top) if las_top and str(las_top).isdigit() else counts["tblLASAssault"],
                 data_end, istv_last, users)



def _bit(v: Any) -> Any:
    return None if v is None else int(bool(v))


def _flag_unknown(v: Any) -> bool:
    return v is None or str(v).strip() in ("", "U")


def _lastmod_kinds(v: str | None, clock: Any) -> set[str]:
    if not v:
        return set()
    day, secs = split_dt(v)
    return {"mps.revised"} | ({"mps.lastmodified_dst_repeated"} if clock.in_repeat(day, secs) else set())


def _period_of(file_name: str, fallback: int) -> tuple[int, int]:
    m = re.search(r"_(\d{8})_(\d{8})\.", file_name)
    if not m:
        return fallback, fallback
    a, z = (datetime.strptime(x, "%Y%m%d").date().toordinal() for x in m.groups())
    return a, z


def _istv_kinds(batch: int, period: list[tuple[int, int]]) -> set[str]:
    """The re-submission kinds of a row of ``batch`` among the rows (ISTVID, BatchID) of its period."""
    out = set()
    if any(b > batch for _, b in period):
        out.add("istv.superseded_submission")
    if any(b < batch for _, b in period):
        out.add("istv.resubmission")
    return out


def vocab_total_istv(scale: float) -> float:
    return SPECS["ISTV"].rows_at_scale_1 * scale
