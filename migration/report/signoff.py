"""The sign-off sections of the report: provenance, coverage and exclusions.

What an auditor asks before signing (``runbooks/report.md``):

* **provenance** — where the data came from (the source URL without password, the legacy
  server and its schema fingerprint), where it went, who ran each load and each check
  (user@host), with which tool version, mapping files (hash) and reference data, and when;
* **coverage** — per check, rows compared of rows in scope (a row-hash check compares every
  row, never a sample) and the columns compared; per legacy table, the columns deliberately
  not compared, with the mapping's ``not_migrated`` reason;
* **exclusions** — every filter rule, merge and quarantine reason with its count, the
  quarantine decisions (who, when, why) and the accepted exceptions (who and why).

Markdown lines are wrapped at 80 columns (tickets and terminals); the HTML stays offline
(no reference outside the file).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection

from migration.ledger import signatures as lsig
from migration.ledger import signoff as ls
from migration.ledger.signatures import Signature
from migration.report.model import iso
from migration.secrets import redact_url, scrub

if TYPE_CHECKING:
    from migration.mapping.spec import StageSpec
    from migration.report.model import Report

#: Markdown of these sections is wrapped to this width
MD_WIDTH = 80

#: what the report says about `report sign` (issue 14: the report must say it)
SIGNATURE_STATEMENT = ("A signature is a ledger record (ledger.signature: name, role, user@host, time and the "
                       "SHA-256 of report.json), not a cryptographic signature. Sign with "
                       "`safestats-migrate report sign --as ROLE --name NAME`.")


@dataclass(frozen=True)
class RunOrigin:
    """Who ran one run, where, with what."""

    run_id: int
    kind: str
    who: str                # user@host
    at: datetime
    tool_version: str
    mapping_hash: str | None
    refdata_version: str | None
    source: str | None      # password-free URL

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "who": self.who, "at": iso(self.at),
                "tool_version": self.tool_version, "mapping_hash": self.mapping_hash,
                "refdata_version": self.refdata_version, "source": self.source}


@dataclass(frozen=True)
class Provenance:
    sources: tuple[str, ...]            # password-free URLs the loads read
    server: str | None                  # the legacy server's dialect (and version, when recorded)
    fingerprint: str | None             # the legacy schema fingerprint's hash
    fingerprint_recorded: str | None    # "by user@host at …"
    target: str
    tool_version: str                   # of the tool writing this report
    mapping_hashes: tuple[str, ...]
    refdata_versions: tuple[str, ...]
    loads: tuple[RunOrigin, ...]
    checks: tuple[RunOrigin, ...]
    generated_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"sources": list(self.sources), "server": self.server, "schema_fingerprint": self.fingerprint,
                "schema_fingerprint_recorded": self.fingerprint_recorded, "target": self.target,
                "tool_version": self.tool_version, "mapping_hashes": list(self.mapping_hashes),
                "refdata_versions": list(self.refdata_versions), "loads": [r.to_dict() for r in self.loads],
                "checks": [r.to_dict() for r in self.checks], "generated_at": iso(self.generated_at)}


@dataclass(frozen=True)
class CoverageRow:
    stage: str
    check: str
    table: str | None
    rows_compared: int | None           # None: the check does not compare rows one by one
    rows_in_scope: int | None
    columns: tuple[str, ...]            # compared
    how: str                            # in words: "every row's hash", "key sets", "totals per bucket"…

    @property
    def percent(self) -> float | None:
        if self.rows_compared is None or not self.rows_in_scope:
            return None
        return 100.0 * self.rows_compared / self.rows_in_scope

    def to_dict(self) -> dict[str, Any]:
        pct = self.percent
        return {"stage": self.stage, "check": self.check, "table": self.table, "rows_compared": self.rows_compared,
                "rows_in_scope": self.rows_in_scope, "percent": None if pct is None else round(pct, 2),
                "columns_compared": list(self.columns), "how": self.how}


@dataclass(frozen=True)
class NotCompared:
    """A legacy column deliberately not carried over (so never compared), with the mapping's reason."""

    stage: str
    source_table: str
    column: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source_table": self.source_table, "column": self.column, "reason": self.reason}


@dataclass(frozen=True)
class Exclusion:
    stage: str
    source_table: str
    kind: str                           # filter | merged | quarantine
    rule: str                           # the filter rule, merge reason or quarantine reason
    rows: int
    open_rows: int | None = None        # quarantine: still open

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "source_table": self.source_table, "kind": self.kind, "rule": self.rule,
                "rows": self.rows, "open_rows": self.open_rows}


@dataclass(frozen=True)
class DecisionRow:
    stage: str | None
    what: str                           # reason, key or "all"
    decision: str
    rows: int
    who: str
    at: datetime
    note: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "what": self.what, "decision": self.decision, "rows": self.rows,
                "who": self.who, "at": iso(self.at), "note": self.note}


@dataclass(frozen=True)
class AcceptedException:
    stage: str
    check: str | None
    who: str
    at: datetime
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "check": self.check, "who": self.who, "at": iso(self.at), "why": self.why}


@dataclass(frozen=True)
class SignoffPack:
    provenance: Provenance
    coverage: tuple[CoverageRow, ...]
    not_compared: tuple[NotCompared, ...]
    exclusions: tuple[Exclusion, ...]
    decisions: tuple[DecisionRow, ...] = field(default=())
    accepted: tuple[AcceptedException, ...] = field(default=())
    decisions_recorded: bool = True     # False: the ledger has no quarantine_decision table yet
    signatures: tuple[Signature, ...] = field(default=())  # earlier sign-offs (of earlier reports)

    def to_dict(self) -> dict[str, Any]:
        return {"provenance": self.provenance.to_dict(),
                "coverage": {"checks": [c.to_dict() for c in self.coverage],
                             "not_compared": [n.to_dict() for n in self.not_compared]},
                "exclusions": {"rows": [e.to_dict() for e in self.exclusions],
                               "quarantine_decisions": [d.to_dict() for d in self.decisions],
                               "decisions_recorded": self.decisions_recorded,
                               "accepted": [a.to_dict() for a in self.accepted]},
                "signoff": {"statement": SIGNATURE_STATEMENT,
                            "signatures": [{"signature_id": s.signature_id, "name": s.name, "role": s.role,
                                            "who": s.actor, "at": iso(s.at), "report_sha256": s.report_sha256,
                                            "report_path": s.report_path, "verdict": s.verdict,
                                            "incomplete": s.incomplete} for s in self.signatures]}}


# --------------------------------------------------------------------------- building
def _origin(r: Mapping[str, Any]) -> RunOrigin:
    source = r.get("source_url")
    # ledger.run.actor is already user@host (books.actor); older rows may hold a bare user
    who = r["actor"] if "@" in str(r["actor"]) else f"{r['actor']}@{r['host']}"
    return RunOrigin(run_id=int(r["run_id"]), kind=r["kind"], who=who, at=r["started_at"],
                     tool_version=r["package_version"], mapping_hash=r.get("mapping_hash"),
                     refdata_version=r.get("refdata_version"),
                     source=redact_url(source) if source else None)


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def _coverage(report: Report, details: Mapping[tuple[str, int], Mapping[str, Any]]) -> list[CoverageRow]:
    # rows in scope per (stage, target table): the key-set check's expected rows (the legacy rows
    # that should be in the target once filters, merges and quarantine are applied)
    expected: dict[tuple[str, str], int] = {}
    for c in report.checks:
        d = details.get((c.stage, c.result_id), {})
        if c.check.startswith("key_set/") and _int(d.get("expected_rows")) is not None:
            expected[(c.stage, str(d.get("table")))] = int(d["expected_rows"])
    out = []
    for c in report.checks:
        d = details.get((c.stage, c.result_id), {})
        table = str(d["table"]) if d.get("table") else None
        family = c.check.split("/", 1)[0]
        if family == "row_hash":
            in_scope = _int(d.get("expected_rows")) or expected.get((c.stage, table or ""))
            out.append(CoverageRow(c.stage, c.check, table, _int(d.get("compared_rows")), in_scope,
                                   tuple(str(x) for x in d.get("columns") or ()), "every row's hash (no sampling)"))
        elif family == "key_set":
            out.append(CoverageRow(c.stage, c.check, table, _int(d.get("target_rows")), _int(d.get("expected_rows")),
                                   tuple(str(x) for x in d.get("key") or ()), "every business key"))
        else:
            cols = d.get("measures") or d.get("columns") or ()
            how = "totals per bucket" if d.get("by") else "a rule over the whole table"
            out.append(CoverageRow(c.stage, c.check, table, None, None,
                                   tuple(str(x) for x in cols) if isinstance(cols, list) else (), how))
    return out


def _not_compared(report: Report, specs: Sequence[StageSpec]) -> list[NotCompared]:
    stages = {s.stage for s in report.stages}
    return [NotCompared(s.stage, t.source.table, col, why)
            for s in specs if s.stage in stages for t in s.tables
            for col, why in sorted(t.not_migrated.items())]


def build_pack(conn: Connection, report: Report, specs: Sequence[StageSpec] = (),
               details: Mapping[tuple[str, int], Mapping[str, Any]] | None = None) -> SignoffPack:
    """The sign-off sections for a built report (``details``: (stage, result id) → the check's
    detail as the ledger holds it; ``specs``: the mapping files, for ``not_migrated``)."""
    load_ids = {r for s in report.stages for r in s.runs}
    check_ids = {c.run_id for c in report.checks}
    origins = {r["run_id"]: _origin(r) for r in ls.runs(conn, load_ids | check_ids)}
    loads = tuple(origins[i] for i in sorted(load_ids) if i in origins)
    checks = tuple(origins[i] for i in sorted(check_ids) if i in origins)
    fp = ls.fingerprint(conn)
    server = None
    if fp and fp.get("dialect"):
        server = str(fp["server_version"]) if fp.get("server_version") else str(fp["dialect"])
    prov = Provenance(
        sources=tuple(dict.fromkeys(o.source for o in loads if o.source)),
        server=server, fingerprint=fp.get("hash") if fp else None,
        fingerprint_recorded=(f"by {fp['actor']}" + (f" ({fp['recorded_by']})" if fp.get("recorded_by") else "")
                              + f" at {iso(fp['at'])}" if fp else None),
        target=report.target, tool_version=report.package_version,
        mapping_hashes=tuple(dict.fromkeys(o.mapping_hash for o in loads if o.mapping_hash)),
        refdata_versions=tuple(dict.fromkeys(o.refdata_version for o in loads if o.refdata_version)),
        loads=loads, checks=checks, generated_at=report.generated_at)

    excl = [Exclusion(d["stage"], d["source_table"], d["disposition"], d["reason_code"], int(d["rows"]))
            for d in ls.dispositions(conn, load_ids)]
    excl += [Exclusion(q.stage, q.source_table, "quarantine", q.reason, q.rows, q.open_rows)
             for q in report.quarantine]
    excl.sort(key=lambda e: (e.stage, e.source_table, e.kind, e.rule))
    decided = ls.has_decisions(conn)
    stages = {s.stage for s in report.stages}
    decisions = tuple(
        DecisionRow(d["stage"], d["reason_code"] or d["key"] or "all", d["decision"], int(d["record_count"]),
                    d["actor"], d["at"], scrub(d["note"]))
        for d in ls.decisions(conn) if d["stage"] is None or d["stage"] in stages)
    accepted: list[AcceptedException] = []
    for s in report.stages:
        if s.accepted is not None:
            accepted.append(AcceptedException(s.stage, None, s.accepted.by, s.accepted.at, s.accepted.reason))
    for c in report.checks:
        if c.accepted is not None and not any(a.stage == c.stage and a.check is None for a in accepted):
            accepted.append(AcceptedException(c.stage, c.check, c.accepted.by, c.accepted.at, c.accepted.reason))
    return SignoffPack(prov, tuple(_coverage(report, details or {})), tuple(_not_compared(report, specs)),
                       tuple(excl), decisions, tuple(accepted), decided, tuple(lsig.all_signatures(conn)))


# --------------------------------------------------------------------------- Markdown
def _wrap(text: str, *, bullet: str = "- ", indent: str = "  ") -> list[str]:
    return textwrap.wrap(" ".join(text.split()), width=MD_WIDTH, initial_indent=bullet, subsequent_indent=indent,
                         break_on_hyphens=False) or [bullet.rstrip()]


def _pct(c: CoverageRow) -> str:
    if c.rows_compared is None:
        return f"{c.how}"
    scope = f"{c.rows_in_scope:,}" if c.rows_in_scope is not None else "unknown"
    pct = c.percent
    return f"{c.rows_compared:,} of {scope} rows" + (f" ({pct:.1f}%)" if pct is not None else "") + f", {c.how}"


def _runs_md(title: str, runs: Iterable[RunOrigin]) -> list[str]:
    runs = list(runs)
    if not runs:
        return _wrap(f"{title}: none in the ledger for what this report covers")
    out = _wrap(f"{title}:")
    for o in runs:
        out += _wrap(f"run {o.run_id} ({o.kind}) by {o.who} at {iso(o.at)}, tool {o.tool_version}",
                     bullet="  - ", indent="    ")
    return out


def markdown_lines(pack: SignoffPack) -> list[str]:
    """The three sections as Markdown, no line longer than 80 columns."""
    p = pack.provenance
    out = ["## Provenance", ""]
    out += _wrap("Source: " + (", ".join(f"`{s}`" for s in p.sources) or "not recorded (no load in scope)"))
    out += _wrap("Legacy server: " + (p.server or "not recorded (run `safestats-migrate preflight`)"))
    out += _wrap("Schema fingerprint: " + (f"`{p.fingerprint}` recorded {p.fingerprint_recorded}"
                                           if p.fingerprint else "not recorded"))
    out += _wrap(f"Target: `{p.target}`")
    out += _wrap(f"Tool version: {p.tool_version}")
    out += _wrap("Mapping files' hash: " + (", ".join(f"`{h}`" for h in p.mapping_hashes) or "not recorded"))
    out += _wrap("Reference data: " + (", ".join(p.refdata_versions) or "not recorded"))
    out += _runs_md("Loads", p.loads) + _runs_md("Checks", p.checks)
    out += _wrap(f"Report generated at {iso(p.generated_at)}")
    out += ["", "## Coverage", ""]
    if not pack.coverage:
        out += _wrap("No check results for what this report covers.")
    for c in pack.coverage:
        out += _wrap(f"{c.stage} / {c.check}: {_pct(c)}"
                     + (f"; columns: {', '.join(c.columns)}" if c.columns else ""))
    if pack.not_compared:
        out += ["", *_wrap("Columns deliberately not compared (not migrated):", bullet="")]
        for n in pack.not_compared:
            out += _wrap(f"{n.stage} / {n.source_table}.{n.column}: {n.reason}")
    out += ["", "## Exclusions", ""]
    if not pack.exclusions:
        out += _wrap("No row was filtered, merged or quarantined.")
    for e in pack.exclusions:
        still = f", {e.open_rows:,} still open" if e.open_rows else ""
        out += _wrap(f"{e.stage} / {e.source_table}: {e.kind} `{e.rule}` {e.rows:,} "
                     f"row{'' if e.rows == 1 else 's'}{still}")
    if not pack.decisions_recorded:
        out += _wrap("Quarantine decisions: this ledger has no decision table yet.")
    for d in pack.decisions:
        out += _wrap(f"Decision {d.decision} on {d.stage or 'every stage'} / {d.what} ({d.rows:,} rows) "
                     f"by {d.who} at {iso(d.at)}: {d.note}")
    for a in pack.accepted:
        out += _wrap(f"Accepted exception {a.stage}" + (f" / {a.check}" if a.check else "")
                     + f" by {a.who} at {iso(a.at)}: {a.why}")
    out += ["", "## Sign-off", "", *_wrap(SIGNATURE_STATEMENT, bullet="", indent="")]
    if pack.signatures:
        out.append("")
    for s in pack.signatures:
        out += _wrap(f"{s.name} ({s.role}, {s.actor}) at {iso(s.at)} signed a {s.verdict} report"
                     + (" as INCOMPLETE" if s.incomplete else "") + f", sha256 {s.report_sha256}")
    return out + [""]


# --------------------------------------------------------------------------- HTML
def _e(value: object) -> str:
    # as html._e: "//" as character references so no URL appears as one in the file
    return escape("" if value is None else str(value)).replace("//", "&#47;&#47;")


def _rows(head: Sequence[str], rows: Iterable[Sequence[object]], num: Sequence[int] = ()) -> str:
    cls = ' class="num"'
    ths = "".join(f'<th scope="col"{cls if i in num else ""}>{_e(h)}</th>' for i, h in enumerate(head))
    trs = "".join("<tr>" + "".join(f'<td{cls if i in num else ""}>{_e(v)}</td>' for i, v in enumerate(r))
                  + "</tr>" for r in rows)
    return f'<div class="scroll"><table><thead><tr>{ths}</tr></thead><tbody>{trs}</tbody></table></div>'


def html_section(pack: SignoffPack) -> str:
    """Provenance, coverage and exclusions as HTML (headings included, nothing external)."""
    p = pack.provenance
    facts = [("Source", ", ".join(p.sources) or "not recorded"), ("Legacy server", p.server or "not recorded"),
             ("Schema fingerprint", f"{p.fingerprint} (recorded {p.fingerprint_recorded})" if p.fingerprint
              else "not recorded"),
             ("Target", p.target), ("Tool version", p.tool_version),
             ("Mapping files' hash", ", ".join(p.mapping_hashes) or "not recorded"),
             ("Reference data", ", ".join(p.refdata_versions) or "not recorded"),
             ("Generated", iso(p.generated_at))]
    parts = ['<h2 id="provenance">Provenance</h2>',
             "<dl class=\"provenance\">" + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in facts) + "</dl>",
             _rows(["run", "kind", "who", "when", "tool", "mapping hash"],
                   [(o.run_id, ("check " if o in p.checks and o not in p.loads else "") + o.kind, o.who, iso(o.at),
                     o.tool_version, o.mapping_hash or "") for o in (*p.loads, *[c for c in p.checks
                                                                                   if c not in p.loads])]),
             '<h2 id="coverage">Coverage</h2><p class="lead">Rows compared of rows in scope, per check; a row-hash '
             "check compares every row, never a sample.</p>",
             _rows(["stage", "check", "rows compared", "in scope", "%", "columns compared"],
                   [(c.stage, c.check, "" if c.rows_compared is None else f"{c.rows_compared:,}",
                     "" if c.rows_in_scope is None else f"{c.rows_in_scope:,}",
                     c.how if c.percent is None else f"{c.percent:.1f}%", ", ".join(c.columns))
                    for c in pack.coverage], num=(2, 3))]
    if pack.not_compared:
        parts += ["<h3>Columns deliberately not compared (not migrated)</h3>",
                  _rows(["stage", "legacy table", "column", "reason"],
                        [(n.stage, n.source_table, n.column, n.reason) for n in pack.not_compared])]
    parts += ['<h2 id="exclusions">Exclusions</h2>',
              _rows(["stage", "legacy table", "kind", "rule or reason", "rows", "still open"],
                    [(e.stage, e.source_table, e.kind, e.rule, f"{e.rows:,}",
                      "" if e.open_rows is None else f"{e.open_rows:,}") for e in pack.exclusions], num=(4, 5))]
    if pack.decisions:
        parts += ["<h3>Quarantine decisions</h3>",
                  _rows(["stage", "what", "decision", "rows", "who", "when", "note"],
                        [(d.stage or "every stage", d.what, d.decision, f"{d.rows:,}", d.who, iso(d.at), d.note)
                         for d in pack.decisions], num=(3,))]
    if pack.accepted:
        parts += ["<h3>Accepted exceptions</h3>",
                  _rows(["stage", "check", "who", "when", "why"],
                        [(a.stage, a.check or "(the stage)", a.who, iso(a.at), a.why) for a in pack.accepted])]
    parts += ['<h2 id="signoff">Sign-off</h2>', f'<p class="lead">{_e(SIGNATURE_STATEMENT)}</p>']
    if pack.signatures:
        parts.append(_rows(["name", "role", "who", "when", "verdict", "report sha256"],
                           [(s.name, s.role, s.actor, iso(s.at), s.verdict + (" (INCOMPLETE)" if s.incomplete else ""),
                             s.report_sha256) for s in pack.signatures]))
    return "".join(parts)


__all__ = ["AcceptedException", "CoverageRow", "DecisionRow", "Exclusion", "NotCompared", "Provenance",
           "RunOrigin", "SignoffPack", "build_pack", "html_section", "markdown_lines"]
