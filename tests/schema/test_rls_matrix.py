"""Row-level security as a matrix, against a migrated target (issue 13).

A synthetic legacy database is generated (scale 0.002, seed 7) and every stage is run into a
fresh target.  Then, for users of every grant shape the generator produces, a session as the
application role ``safestats_app`` acting for the user counts what it sees, and the count is
compared with an **independent oracle** built straight from the legacy SQLite tables — never
from ``sec.access_grant``:

- a disabled user, a user whose ``OrgID`` names no organisation, a user without a login, or a
  user of an organisation the migration cannot load (its borough text resolves to nothing, so
  the settled rule quarantines it) sees nothing;
- ``AllowedBoroughs`` = ``ALL`` sees every row of its datasets, rows without a borough included;
- otherwise the user sees the boroughs its tokens name, resolved by the small resolver below
  (ONS names and GSS codes from ``Boroughs.csv``, the legacy ``tblBorough`` names, the
  normalisation of the data dictionary / TARGET-MODEL, and one-slip misspellings); a token it
  cannot resolve (not London, ``Heathrow``) grants nothing — Heathrow is never widened to
  Hillingdon;
- datasets: MPS, LFB, LAS, TRANSPORT for every such user, ISTV only with ``CanSeeISTV``; exact
  points only with ``CanSeePoints``.

The oracle's expected count is computed from the target's own rows (by dataset and borough, read
as the owner) filtered by the oracle's grants.  Exact points are checked through
``core.incident_masked`` against the owner's ``geom`` and the ONS borough centroids; the app
role's privileges are compared with the list in ``runbooks/application-access.md``.
"""

from __future__ import annotations

import csv
import os
import re
import sqlite3
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from migration.console import RecordingConsole
from migration.legacy import generate
from migration.schema import api
from migration.schema.roles import APP_ROLE, MASKED_INCIDENT_VIEW, act_for_user
from tests.conftest import PgDatabases
from tests.steps.conftest import run_all

pytestmark = pytest.mark.postgres

SCALE, SEED = 0.002, 7
REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "runbooks" / "application-access.md"


def _reference_dir() -> Path:
    """The project's shared ONS reference data (beside the repository, like the shared docs)."""
    candidates = [Path(p) for p in (os.environ.get("SAFESTATS_REFERENCE_DATA"),) if p]
    candidates += [REPO.parent / "shared" / "reference-data", REPO.parents[1] / "shared" / "reference-data",
                   Path("/work/shared/reference-data")]
    for p in candidates:
        if (p / "la_all_codes.csv").is_file() and (p / "Boroughs.csv").is_file():
            return p
    pytest.fail(f"the shared ONS reference data (la_all_codes.csv, Boroughs.csv) is in none of {candidates}; "
                "set SAFESTATS_REFERENCE_DATA")


#: the legacy datasets (data dictionary, tblImportLog.Dataset); ISTV needs CanSeeISTV
BASE_DATASETS = frozenset({"MPS", "LFB", "LAS", "TRANSPORT"})
ISTV = "ISTV"
DETAIL_TABLES = ("core.police_crime", "core.fire_incident", "core.ambulance_assault",
                 "core.transport_crime", "istv.ed_assault")
#: TARGET-MODEL flags rule: Y/1/T true, N/0/F false, anything else unknown
TRUE, FALSE = {"Y", "1", "T", "TRUE"}, {"N", "0", "F", "FALSE"}
NO_VALUE = {"", "NULL", "N/A", "-"}


# --------------------------------------------------------------------------- the resolver
def norm(token: str) -> str:
    """Borough normal form (TARGET-MODEL borough rule, data dictionary N(x)): upper case,
    '&' -> AND, single spaces, 'Royal Borough of' / 'London Borough of' dropped,
    'City of Westminster' -> Westminster (City of London kept), and the short forms the
    dictionary lists (Kingston, Richmond, Barking)."""
    s = re.sub(r"\s+", " ", token.upper().replace("&", " AND ")).strip()
    for prefix in ("ROYAL BOROUGH OF ", "LONDON BOROUGH OF "):
        if s.startswith(prefix):
            s = s[len(prefix):]
    return {"CITY OF WESTMINSTER": "WESTMINSTER", "KINGSTON": "KINGSTON UPON THAMES",
            "RICHMOND": "RICHMOND UPON THAMES", "BARKING": "BARKING AND DAGENHAM"}.get(s, s)


def one_slip(a: str, b: str) -> bool:
    """``a`` differs from ``b`` by exactly one substitution, insertion, deletion or swap of two
    neighbouring characters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        d = [i for i in range(len(a)) if a[i] != b[i]]
        return len(d) == 1 or (len(d) == 2 and d[1] == d[0] + 1 and a[d[0]] == b[d[1]] and a[d[1]] == b[d[0]])
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


@dataclass(frozen=True)
class Resolution:
    gss: str | None
    how: str  # official, variant, misspelt, heathrow, not London


class Resolver:
    """Borough text -> GSS code, from ONS and the legacy tblBorough only (not la_alias)."""

    def __init__(self, legacy: sqlite3.Connection, ref: Path) -> None:
        with (ref / "Boroughs.csv").open(encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        self.official = {r["NAME"]: r["GSS_CODE"] for r in rows}
        self.centroid = {r["GSS_CODE"]: (round(float(r["X"])), round(float(r["Y"]))) for r in rows}
        assert len(self.official) == 33, "Boroughs.csv should name the 33 London authorities"
        self.by_norm = {norm(name): gss for name, gss in self.official.items()}
        for name, gss in legacy.execute("SELECT BoroughName, GSSCode FROM tblBorough"):
            n, code = norm(name), (gss or "").strip() or None
            if code is not None:
                assert self.by_norm.setdefault(n, code) == code, f"tblBorough {name!r} {code} disagrees with ONS"
        with (ref / "la_all_codes.csv").open(encoding="utf-8") as fh:
            # real places outside London are not misspellings of a borough (Harlow is not Harrow)
            self.outside = {norm(r["LADNM"]) for r in csv.DictReader(fh) if not r["LADCD"].startswith("E09")}

    def resolve(self, token: str) -> Resolution:
        t = token.strip()
        if t in self.official:
            return Resolution(self.official[t], "official")
        n = norm(t)
        if n in self.by_norm:
            return Resolution(self.by_norm[n], "variant")
        if n in ("HEATHROW", "HEATHROW AIRPORT", "LONDON HEATHROW", "LONDON HEATHROW AIRPORT"):
            return Resolution(None, "heathrow")  # an airport in Hillingdon, not Hillingdon
        if n not in self.outside:
            near = {gss for name, gss in self.by_norm.items() if one_slip(n, name)}
            if len(near) == 1:
                return Resolution(near.pop(), "misspelt")
        return Resolution(None, "not London")


# --------------------------------------------------------------------------- the oracle
@dataclass
class Access:
    user_id: int
    datasets: frozenset[str] = frozenset()
    areas: frozenset[str] | None = frozenset()  # None = all London, rows without a borough included
    points: bool = False
    shapes: set[str] = field(default_factory=set)
    tokens: dict[str, Resolution] = field(default_factory=dict)

    def covers(self, dataset: str, gss: str | None) -> bool:
        return dataset in self.datasets and (self.areas is None or gss in self.areas)

    def describe(self) -> str:
        areas = "all London" if self.areas is None else sorted(self.areas)
        toks = {t: f"{r.how}->{r.gss}" for t, r in self.tokens.items()}
        return f"user {self.user_id} [{', '.join(sorted(self.shapes))}] datasets {sorted(self.datasets)} " \
               f"areas {areas} points {self.points} tokens {toks}"


def _flag(value: Any) -> bool | None:
    s = "" if value is None else str(value).strip().upper()
    return True if s in TRUE else False if s in FALSE else None


def _blank(value: Any) -> bool:
    return value is None or str(value).strip().upper() in NO_VALUE


def oracle(legacy: sqlite3.Connection, resolver: Resolver) -> dict[int, Access]:
    orgs: dict[int, str | None] = {int(k): b for k, b in legacy.execute("SELECT OrgID, BoroughName FROM tblOrganisation")}
    out: dict[int, Access] = {}
    for uid, login, org, allowed, istv, points, disabled in legacy.execute(
            "SELECT UserID, Login, OrgID, AllowedBoroughs, CanSeeISTV, CanSeePoints, Disabled FROM tblUser"):
        a = Access(int(uid))
        out[a.user_id] = a
        can_istv, can_points = _flag(istv) is True, _flag(points) is True  # unreadable: least privilege
        a.shapes |= {"ISTV" if can_istv else "no ISTV", "points" if can_points else "no points"}
        whole = (allowed or "").strip()
        if whole.upper() == "ALL":
            a.shapes.add("all London")
        else:
            for tok in (t for t in whole.split(",") if t.strip()):
                a.tokens[tok] = r = resolver.resolve(tok)
                a.shapes.add(f"{r.how} token")
        borough = orgs.get(int(org)) if org is not None else None
        if org is None or int(org) not in orgs:
            a.shapes.add("orphan organisation")
        elif not _blank(borough) and norm(borough or "") not in ("UNKNOWN", "NOT KNOWN") \
                and resolver.resolve(borough or "").how == "not London":
            # TARGET-MODEL: a non-empty borough text that resolves to nothing is quarantined, so
            # the organisation is not migrated and its users have none (like an orphan)
            a.shapes.add("organisation not migrated")
        if _flag(disabled) is not False:  # fail closed: an unreadable state is disabled
            a.shapes.add("disabled")
        if login is None or not str(login).strip():
            a.shapes.add("no login")
        if a.shapes & {"orphan organisation", "organisation not migrated", "disabled", "no login"}:
            continue
        a.datasets = BASE_DATASETS | ({ISTV} if can_istv else set())
        a.points = can_points
        if whole.upper() == "ALL":
            a.areas = None
        else:
            a.areas = frozenset(r.gss for r in a.tokens.values() if r.gss is not None)
            a.shapes.add({0: "no borough", 1: "one borough"}.get(len(a.areas), "several boroughs"))
    return out


#: shapes the generated data must contain (the test fails, never skips, when one goes missing)
REQUIRED_SHAPES = ("one borough", "several boroughs", "all London", "ISTV", "no ISTV", "points", "no points",
                   "orphan organisation", "heathrow token", "disabled", "misspelt token", "variant token",
                   "not London token")


# --------------------------------------------------------------------------- fixtures
@dataclass
class Matrix:
    url: URL
    engine: Engine
    access: dict[int, Access]
    resolver: Resolver
    legacy: Path
    #: (dataset, gss_code) -> rows, per table, read as the owner
    cells: dict[str, Counter[tuple[str, str | None]]]


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    legacy = tmp_path_factory.mktemp("rls_matrix") / "legacy.sqlite"
    generate(make_url(f"sqlite:///{legacy}"), SCALE, SEED, None, console=RecordingConsole())
    dbs = PgDatabases()
    try:
        url = dbs.create("ss_rls_matrix")
        api.upgrade(url)
        run_all(legacy, url)
        engine = create_engine(url, poolclass=NullPool)
        with sqlite3.connect(legacy) as db:
            resolver = Resolver(db, _reference_dir())
            access = oracle(db, resolver)
        cells: dict[str, Counter[tuple[str, str | None]]] = {}
        with engine.connect() as conn:
            for table in ("core.incident", *DETAIL_TABLES):
                join = "" if table == "core.incident" else f" JOIN {table} d USING (incident_id)"
                cells[table] = Counter({(d, g): int(n) for d, g, n in conn.execute(text(
                    f"SELECT i.dataset, i.gss_code, count(*) FROM core.incident i{join} GROUP BY 1, 2"))})
        yield Matrix(url, engine, access, resolver, legacy, cells)
        engine.dispose()
    finally:
        dbs.drop_all()


@contextmanager
def as_app(engine: Engine, user_id: int | None) -> Iterator[Connection]:
    """A transaction as the application role acting for ``user_id``, rolled back after."""
    with engine.connect() as conn, conn.begin() as tx:
        try:
            yield _acting(conn, user_id)
        finally:
            tx.rollback()


def _acting(conn: Connection, user_id: int | None) -> Connection:
    """``conn`` (in a transaction) becomes the application role acting for ``user_id``."""
    conn.execute(text(f"SET LOCAL ROLE {APP_ROLE}"))
    act_for_user(conn, user_id)
    return conn


def expected(m: Matrix, a: Access, table: str) -> int:
    return sum(n for (d, g), n in m.cells[table].items() if a.covers(d, g))


def seen(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def disagreements(m: Matrix, conn: Connection, a: Access, tables: tuple[str, ...]) -> list[str]:
    """Visible counts (``conn`` already acts as the app role for ``a``) that differ from the oracle."""
    out = []
    for table in tables:
        want, got = expected(m, a, table), seen(conn, table)
        if want != got:
            out.append(f"{table}: sees {got:,}, oracle {want:,} — {a.describe()}")
    return out


def probes(m: Matrix, per_shape: int = 3) -> dict[str, list[Access]]:
    """Up to ``per_shape`` users of each shape (lowest UserIDs), and every user with an odd token."""
    by_shape: dict[str, list[Access]] = {}
    for a in sorted(m.access.values(), key=lambda x: x.user_id):
        for s in a.shapes:
            odd = s in ("heathrow token", "misspelt token", "not London token", "organisation not migrated")
            if odd or len(by_shape.setdefault(s, [])) < per_shape:
                by_shape.setdefault(s, []).append(a)
    return by_shape


# --------------------------------------------------------------------------- the matrix
def test_the_generated_data_has_every_grant_shape(matrix: Matrix) -> None:
    counts = Counter(s for a in matrix.access.values() for s in a.shapes)
    missing = [s for s in REQUIRED_SHAPES if counts[s] == 0]
    assert not missing, f"the generator no longer produces these grant shapes: {missing} (have {dict(counts)})"
    # enabled users with grants in each access shape, not only disabled ones
    for shape in ("one borough", "several boroughs", "all London", "ISTV", "no ISTV", "points", "no points"):
        assert any(shape in a.shapes and a.datasets for a in matrix.access.values()), shape


def test_the_resolver_never_widens_heathrow_and_reads_the_dictionary_forms(matrix: Matrix) -> None:
    r = matrix.resolver.resolve
    hillingdon = matrix.resolver.official["Hillingdon"]
    assert r("Heathrow") == Resolution(None, "heathrow") and r(" HEATHROW ").gss is None
    assert r("Hillingdom") == Resolution(hillingdon, "misspelt")
    assert r("Royal Borough of Kensington & Chelsea").gss == matrix.resolver.official["Kensington and Chelsea"]
    assert r("City of Westminster").gss == matrix.resolver.official["Westminster"]
    assert r("City of London").gss == "E09000001" and r("Westminster").gss == "E09000033"
    assert r("Harlow").gss is None and r("Dartford").gss is None and r("Narnia").gss is None
    # every Heathrow user: Hillingdon only when another token names it
    heathrow = [a for _, a in sorted(matrix.access.items()) if "heathrow token" in a.shapes and a.areas is not None]
    for a in heathrow:
        named = any(t.gss == hillingdon for t in a.tokens.values())
        assert (hillingdon in a.areas) == named, a.describe()
    # ... and in the target, such a user sees no Hillingdon row at all (there are some to see)
    hill = text("SELECT count(*) FROM core.incident WHERE gss_code = :g")
    with matrix.engine.connect() as conn:
        assert conn.execute(hill, {"g": hillingdon}).scalar_one() > 0
    narrow = [a for a in heathrow if hillingdon not in (a.areas or ())]
    assert narrow, "no enabled Heathrow user without a Hillingdon token: the generator changed"
    for a in narrow:
        with as_app(matrix.engine, a.user_id) as conn:
            assert conn.execute(hill, {"g": hillingdon}).scalar_one() == 0, f"Heathrow widened: {a.describe()}"


def test_every_shape_sees_exactly_what_its_legacy_permissions_allow(matrix: Matrix) -> None:
    """Per shape, per user: rows of core.incident and every detail table visible as the app role
    equal the oracle's count from the target's rows filtered by the oracle's grants."""
    wrong: list[str] = []
    probed: set[int] = set()
    for _shape, users in sorted(probes(matrix).items()):
        for a in users:
            if a.user_id in probed:
                continue
            probed.add(a.user_id)
            with as_app(matrix.engine, a.user_id) as conn:
                wrong += disagreements(matrix, conn, a, ("core.incident", *DETAIL_TABLES))
    assert len(probed) >= 20
    assert not wrong, f"{len(wrong)} disagreements between the legacy oracle and RLS:\n" + "\n".join(wrong)


def test_a_sample_of_every_kind_of_user_sees_on_core_incident_what_the_oracle_allows(matrix: Matrix) -> None:
    """Beyond the shapes: every 8th legacy user, whatever it is, on the base table (one count each;
    the whole population would take ~35 s, a count under the policy costing ~50 ms)."""
    wrong: list[str] = []
    sample = [a for uid, a in sorted(matrix.access.items()) if uid % 8 == 0]
    with matrix.engine.connect() as conn:
        for a in sample:
            with conn.begin() as tx:
                wrong += disagreements(matrix, _acting(conn, a.user_id), a, ("core.incident",))
                tx.rollback()
    assert len(sample) >= 70
    assert not wrong, f"{len(wrong)} users see a different number of incidents than legacy allowed:\n" + \
        "\n".join(wrong[:20])


#: what the migration must report about a user (sec.app_user.dq_flags), from the oracle's shapes
REPORTED = {"org_orphan": ("orphan organisation", "organisation not migrated"),
            "borough_not_widened": ("heathrow token",), "borough_unmatched": ("not London token",),
            "borough_misspelt": ("misspelt token",)}


def test_the_migration_reports_what_it_did_not_grant_or_read_from_a_misspelling(matrix: Matrix) -> None:
    """TARGET-MODEL: orphan users get no grant *and are reported*; Heathrow is reported; unmatched
    names are reported; a grant read from a misspelling is flagged (kinds user.allowed_misspelt)."""
    with matrix.engine.connect() as conn:
        flags = {int(u): set(f) & set(REPORTED) for u, f in conn.execute(
            text("SELECT user_id, dq_flags FROM sec.app_user"))}
    assert set(flags) == set(matrix.access), "every legacy user is migrated (none quarantined here)"
    wrong = []
    for uid, a in sorted(matrix.access.items()):
        want = {flag for flag, shapes in REPORTED.items() if a.shapes & set(shapes)}
        if flags[uid] != want:
            wrong.append(f"flags {sorted(flags[uid])}, oracle {sorted(want)} — {a.describe()}")
    assert all(any(s in a.shapes for a in matrix.access.values()) for ss in REPORTED.values() for s in ss[:1])
    assert not wrong, "users reported differently from the legacy oracle:\n" + "\n".join(wrong)


def test_a_wrong_grant_is_caught(matrix: Matrix) -> None:
    """The comparison can disagree: grants planted in the target (in a rolled-back transaction)
    — Heathrow widened to Hillingdon, a borough user widened to all London, one borough of a
    several-borough user taken away — each make the matrix fail for that user."""
    hillingdon = matrix.resolver.official["Hillingdon"]
    heathrow = next(a for a in sorted(matrix.access.values(), key=lambda x: x.user_id)
                    if "heathrow token" in a.shapes and a.areas is not None and hillingdon not in a.areas)
    one = next(a for a in matrix.access.values() if "one borough" in a.shapes and a.datasets)
    several = next(a for a in matrix.access.values() if "several boroughs" in a.shapes and a.datasets)
    dropped = sorted(several.areas or ())[0]
    plants = [
        (heathrow, "INSERT INTO sec.access_grant (user_id, dataset, gss_code, show_points, load_run_id) "
                   f"SELECT {heathrow.user_id}, 'MPS', '{hillingdon}', false, max(run_id) FROM ledger.run"),
        (one, "INSERT INTO sec.access_grant (user_id, dataset, gss_code, show_points, load_run_id) "
              f"SELECT {one.user_id}, 'LFB', NULL, false, max(run_id) FROM ledger.run"),
        (several, f"DELETE FROM sec.access_grant WHERE user_id = {several.user_id} AND gss_code = '{dropped}'"),
    ]
    for a, plant in plants:
        with matrix.engine.connect() as conn, conn.begin() as tx:
            assert not disagreements(matrix, _acting(conn, a.user_id), a, ("core.incident",)), a.describe()
            conn.execute(text("RESET ROLE"))
            conn.execute(text(plant))
            found = disagreements(matrix, _acting(conn, a.user_id), a, ("core.incident",))
            tx.rollback()
        assert found, f"planted {plant!r} and the matrix did not notice ({a.describe()})"


# --------------------------------------------------------------------------- points
def _sample_ids(conn: Connection) -> list[int]:
    """A few incidents of every dataset: with and without a borough, with and without a point."""
    return [int(r[0]) for r in conn.execute(text(
        "SELECT incident_id FROM (SELECT incident_id, row_number() OVER (PARTITION BY dataset, gss_code IS NULL, "
        "geom IS NULL ORDER BY incident_id) AS k FROM core.incident) s WHERE k <= 4"))]


def test_points_are_exact_only_for_users_who_may_see_them(matrix: Matrix) -> None:
    with matrix.engine.connect() as conn:
        ids = _sample_ids(conn)
        exact = {int(i): (d, g, None if x is None else (round(x), round(y)), p) for i, d, g, x, y, p in conn.execute(
            text("SELECT incident_id, dataset, gss_code, ST_X(geom), ST_Y(geom), location_precision "
                 "FROM core.incident WHERE incident_id = ANY(:ids)"), {"ids": ids})}
    assert any(v[2] is not None for v in exact.values()) and any(v[1] is None for v in exact.values())
    # the oracle can disagree with a leak: an exact point is never its borough's centroid here
    assert all(p != matrix.resolver.centroid.get(g or "") for _d, g, p, _ in exact.values() if p is not None)
    wrong: list[str] = []
    checked = Counter[str]()
    users = {a.user_id: a for shape_users in probes(matrix, per_shape=2).values() for a in shape_users}
    for _uid, a in sorted(users.items()):
        with as_app(matrix.engine, a.user_id) as conn:
            got = {int(i): (None if x is None else (round(x), round(y)), p, s) for i, x, y, p, s in conn.execute(
                text(f"SELECT incident_id, ST_X(geom), ST_Y(geom), location_precision, point_shown "
                     f"FROM {MASKED_INCIDENT_VIEW} WHERE incident_id = ANY(:ids)"), {"ids": ids})}
        want = {}
        for i, (d, g, point, precision) in exact.items():
            if not a.covers(d, g):
                continue
            if a.points and point is not None:
                want[i] = (point, precision, True)
            else:
                want[i] = (matrix.resolver.centroid.get(g or ""), "borough" if g else "none", False)
        if got != want:
            bad = sorted(i for i in set(got) | set(want) if got.get(i) != want.get(i))[:5]
            wrong.append(f"{a.describe()}: " + "; ".join(f"{i} view {got.get(i)} oracle {want.get(i)}"
                                                         for i in bad))
        checked["exact point"] += sum(1 for v in want.values() if v[2])
        checked["borough centroid"] += sum(1 for v in want.values() if v[1] == "borough")
    assert checked["exact point"] >= 20 and checked["borough centroid"] >= 20, checked
    assert not wrong, "the masked view disagrees with CanSeePoints:\n" + "\n".join(wrong)


def test_the_app_role_cannot_select_the_exact_point_even_with_points(matrix: Matrix) -> None:
    user = next(a for a in sorted(matrix.access.values(), key=lambda x: x.user_id)
                if a.points and a.areas is None)
    with matrix.engine.connect() as conn:  # the probe can succeed: as the owner it does
        assert conn.execute(text("SELECT count(geom) FROM core.incident")).scalar_one() > 0
    for statement in ("SELECT geom FROM core.incident LIMIT 1", "SELECT * FROM core.incident LIMIT 1",
                      "SELECT ST_AsText(i.geom) FROM core.police_crime d JOIN core.incident i USING (incident_id)"):
        with as_app(matrix.engine, user.user_id) as conn, pytest.raises(DBAPIError, match="permission denied"):
            conn.execute(text(statement))


# --------------------------------------------------------------------------- least privilege
def test_the_app_role_cannot_read_the_ledger_or_staging(matrix: Matrix) -> None:
    with matrix.engine.connect() as conn:
        tables = [r[0] for r in conn.execute(text(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname IN ('ledger', 'staging') "
            "ORDER BY 1"))]
    assert {"ledger.event", "ledger.run", "ledger.quarantine_event", "ledger.quarantine_record",
            "ledger.before_image", "ledger.checkpoint"} <= set(tables)
    readable = []
    for table in tables:
        with as_app(matrix.engine, None) as conn:
            try:
                conn.execute(text(f"SELECT 1 FROM {table} LIMIT 1"))
                readable.append(table)
            except DBAPIError as exc:
                assert "permission denied" in str(exc), (table, exc)
    assert readable == []


def test_the_app_role_is_not_privileged_and_owns_nothing(matrix: Matrix) -> None:
    with matrix.engine.connect() as conn:
        role = conn.execute(text("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolreplication "
                                 "FROM pg_roles WHERE rolname = :r"), {"r": APP_ROLE}).one()
        assert tuple(role) == (False, False, False, False, False)
        assert conn.execute(text("SELECT count(*) FROM pg_auth_members WHERE member = CAST(:r AS regrole)"),
                            {"r": APP_ROLE}).scalar_one() == 0, "the app role is a member of another role"
        owned = conn.execute(text(
            "SELECT c.oid::regclass::text, c.relrowsecurity, c.relforcerowsecurity, pg_get_userbyid(c.relowner), "
            "pg_has_role(:r, c.relowner, 'MEMBER') FROM pg_class c WHERE c.oid = ANY(CAST(:t AS regclass[]))"),
            {"r": APP_ROLE, "t": ["core.incident", *DETAIL_TABLES, "sec.access_grant"]}).all()
    assert len(owned) == 1 + len(DETAIL_TABLES) + 1
    for name, rls, _forced, owner, member in owned:
        assert rls, f"{name}: row-level security is not enabled"
        assert owner != APP_ROLE and not member, f"{name} is owned by {owner}, which {APP_ROLE} is (in) "


def _catalog_privileges(conn: Connection) -> set[tuple[str, str, str]]:
    """(kind, object, privilege) the app role holds, directly or through PUBLIC, on our objects."""
    held: set[tuple[str, str, str]] = set()
    for schema, table, priv, grantable in conn.execute(text(
            "SELECT table_schema, table_name, privilege_type, is_grantable FROM information_schema.role_table_grants "
            "WHERE grantee = :r"), {"r": APP_ROLE}):
        assert grantable == "NO", f"{schema}.{table}: {priv} WITH GRANT OPTION"
        held.add(("table", f"{schema}.{table}", priv))
    # to the role itself anywhere; to PUBLIC in our schemas (PostgreSQL's own catalogs and the
    # public schema's PostGIS are PUBLIC's in every database)
    mine = "(x.grantee = CAST(:r AS regrole) OR (x.grantee = 0 AND n.nspname = ANY(:ours)))"
    params = {"r": APP_ROLE, "ours": list(OUR_SCHEMAS)}
    held |= {("column", f"{rel}.{col}", priv) for rel, col, priv in conn.execute(text(
        "SELECT c.oid::regclass::text, a.attname, x.privilege_type FROM pg_attribute a "
        "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace, "
        f"aclexplode(a.attacl) x WHERE {mine}"), params)}
    held |= {("schema", n, priv) for n, priv in conn.execute(text(
        f"SELECT n.nspname, x.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) x WHERE {mine}"), params)}
    # every relation (sequences too), and functions anyone may run (a function with no ACL has
    # PostgreSQL's default: EXECUTE for PUBLIC)
    held |= {("table", rel, priv) for rel, priv in conn.execute(text(
        "SELECT c.oid::regclass::text, x.privilege_type FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        f"aclexplode(c.relacl) x WHERE {mine}"), params)}
    held |= {("function", fn, "EXECUTE") for (fn,) in conn.execute(text(
        "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE (p.proacl IS NULL AND n.nspname = ANY(:ours)) OR EXISTS (SELECT FROM aclexplode(p.proacl) x "
        f"WHERE {mine} AND x.privilege_type = 'EXECUTE')"), params)}
    return held


SECTION = "## What `safestats_app` holds"
OUR_SCHEMAS = ("core", "istv", "ref", "sec", "ledger", "staging")


def _documented_privileges() -> set[tuple[str, str, str]]:
    """The runbook section's table: | `object`, … | schema/view/table/columns/function | PRIVILEGE |
    (a columns row names its table first: | `core.incident`: `a`, `b` | columns | SELECT |)."""
    body = RUNBOOK.read_text(encoding="utf-8")
    assert SECTION in body, f"{RUNBOOK.name} has no section {SECTION!r}"
    section = body.split(SECTION, 1)[1].split("\n## ", 1)[0]
    out: set[tuple[str, str, str]] = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        kind, priv = {"view": "table"}.get(cells[1], cells[1]), cells[2]
        names = re.findall(r"`([^`]+)`", cells[0])
        if kind == "columns":  # `core.incident`: `a`, `b`, …
            out |= {("column", f"{names[0]}.{c}", priv) for c in names[1:]}
        else:
            out |= {(kind, n, priv) for n in names}
    return out


def test_the_runbook_lists_exactly_what_the_app_role_holds(matrix: Matrix) -> None:
    with matrix.engine.connect() as conn:
        held = _catalog_privileges(conn)
    documented = _documented_privileges()
    assert ("column", "core.incident.incident_id", "SELECT") in held and ("table", "core.incident_masked",
                                                                          "SELECT") in held
    assert not [h for h in held if h[1].startswith(("ledger.", "staging.")) and h[0] != "function"]
    assert held == documented, (
        f"{RUNBOOK.name} ({SECTION}) is out of date — held, not documented: {sorted(held - documented)}; "
        f"documented, not held: {sorted(documented - held)}")


def test_a_privilege_the_runbook_does_not_list_is_caught(matrix: Matrix) -> None:
    """The comparison can disagree: grants planted in a rolled-back transaction show up."""
    documented = _documented_privileges()
    plants = {f"GRANT SELECT ON ledger.run TO {APP_ROLE}": ("table", "ledger.run", "SELECT"),
              "GRANT SELECT (geom) ON core.incident TO PUBLIC": ("column", "core.incident.geom", "SELECT"),
              f"GRANT USAGE ON SCHEMA staging TO {APP_ROLE}": ("schema", "staging", "USAGE"),
              "REVOKE SELECT ON ref.ward FROM " + APP_ROLE: None}
    for plant, extra in plants.items():
        with matrix.engine.connect() as conn, conn.begin() as tx:
            conn.execute(text(plant))
            held = _catalog_privileges(conn)
            tx.rollback()
        if extra is None:
            assert documented - held == {("table", "ref.ward", "SELECT")}, plant
        else:
            assert held - documented == {extra}, plant
