"""SQLAlchemy model of the target schema at Alembic head.

This is the contract the mappings are validated against without a database, and the
model `alembic check` compares the migrations with (tests/schema).  Change the schema by
adding an Alembic revision *and* changing this file; the test fails if they disagree.

Two groups, on two Alembic branches so that downgrading the data never erases the books:
- ``DATA_SCHEMAS`` (branch ``data``): ``ref``, ``core``, ``istv``, ``sec`` — the new SafeStats;
- ``LEDGER_SCHEMAS`` (branch ``ledger``): ``ledger`` (runs, events, checkpoints, accounting,
  quarantine, before-images, check results, lock) and ``staging`` (raw COPY targets).

Every data table carries ``load_run_id``: the run that wrote the row last.  Rollback of a
run deletes the rows it inserted (``load_run_id = run``) and restores before-images of
the rows it changed or deleted (``ledger.before_image``), so no TRUNCATE is ever needed.

Alembic compares tables, columns, types, defaults, comments, keys and indexes, so those
must match here exactly.  What it cannot compare lives only in the revisions and is
tested on a real server instead (tests/schema): CHECK constraint bodies, the views
``ledger.stage_state`` and ``core.incident_masked``, ``sec.acting_user_id()``, the
append-only triggers on ``ledger.run``/``ledger.event``, grants, ownership and the
row-level security policies (see ``migration.schema.roles``).  One part of the grants is
compared by ``schema check`` too: the application role must not be able to read an exact
location (:data:`migration.schema.roles.EXACT_LOCATION_COLUMNS`).
"""

from __future__ import annotations

from geoalchemy2 import Geometry
from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.schema import SchemaItem

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

DATA_SCHEMAS = ("ref", "core", "istv", "sec")
LEDGER_SCHEMAS = ("ledger", "staging")

#: datasets of core.incident, one per fact stage
DATASETS = ("MPS", "LFB", "LAS", "ISTV", "TRANSPORT")
#: agencies a row can come from
AGENCIES = ("MPS", "COLP", "BTP", "LAS", "LFB", "ED", "TFL")
OCCURRED_PRECISION = ("second", "minute", "day", "none")
LOCATION_PRECISION = ("exact", "rounded", "street", "postcode_sector", "lsoa", "ward", "borough", "none")

TZ = DateTime(timezone=True)
POINT = Geometry("POINT", srid=27700, spatial_index=False)  # GiST index declared explicitly below


def _in(col: str, values: tuple[str, ...]) -> str:
    return f"{col} IN ({', '.join(repr(v) for v in values)})"


def _run_col() -> Column:
    return Column("load_run_id", BigInteger, nullable=False, comment="ledger.run that wrote this row last")


# --------------------------------------------------------------------------- ref
local_authority = Table(
    "local_authority", metadata,
    Column("gss_code", CHAR(9), primary_key=True),
    Column("name", Text, nullable=False, unique=True),
    Column("legacy_ons_code", CHAR(4), nullable=True),
    Column("mps_code", CHAR(2), nullable=True),
    Column("csp_name", Text, nullable=False),
    _run_col(),
    Column("legacy_borough_id", SmallInteger, nullable=True, unique=True,
           comment="tblBorough.BoroughID (lineage, lookups)"),
    Column("centroid_easting", Integer, nullable=True,
           comment="centroid, British National Grid metres (London Datastore borough boundaries)"),
    Column("centroid_northing", Integer, nullable=True,
           comment="centroid, British National Grid metres (London Datastore borough boundaries)"),
    CheckConstraint("gss_code ~ '^E090000[0-3][0-9]$'", name="gss_london"),
    CheckConstraint("(centroid_easting IS NULL) = (centroid_northing IS NULL)", name="centroid"),
    schema="ref",
    comment="The 33 London local authorities (GSS E09000001–E09000033).",
)

la_alias = Table(
    "la_alias", metadata,
    Column("alias_norm", Text, primary_key=True),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=False),
    Column("flag", Text, nullable=True, comment="data-quality flag raised when this alias is used (e.g. heathrow)"),
    _run_col(),
    schema="ref",
    comment="Every normalised borough spelling seen in legacy data → GSS code.",
)

ward = Table(
    "ward", metadata,
    Column("ward_code", Text, nullable=False),
    Column("vintage", SmallInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True),
    _run_col(),
    PrimaryKeyConstraint("ward_code", "vintage"),
    CheckConstraint("vintage IN (2002, 2014)", name="vintage"),
    schema="ref",
)

lsoa = Table(
    "lsoa", metadata,
    Column("lsoa_code", CHAR(9), nullable=False),
    Column("census_year", SmallInteger, nullable=False),
    Column("name", Text, nullable=False),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True),
    _run_col(),
    PrimaryKeyConstraint("lsoa_code", "census_year"),
    CheckConstraint("census_year IN (2001, 2011)", name="census_year"),
    schema="ref",
)

offence_category = Table(
    "offence_category", metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("scheme", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("parent_id", BigInteger, ForeignKey("ref.offence_category.id"), nullable=True),
    Column("ho_code", Text, nullable=True),
    Column("police_uk_category", Text, nullable=True),
    Column("violent", Boolean, nullable=True),
    Column("retired", Boolean, nullable=False, server_default=text("false")),
    _run_col(),
    UniqueConstraint("scheme", "code"),
    schema="ref",
    comment="Offence categories; MPS minor categories keep the legacy CrimeTypeID as code; UNKNOWN is explicit.",
)

ed_site = Table(
    "ed_site", metadata,
    Column("ods_site_code", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True),
    Column("geom", POINT, nullable=True),
    Column("istv_from", Date, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("legacy_hospital_id", Integer, nullable=False, unique=True),
    _run_col(),
    schema="ref",
    comment="Emergency Department sites (legacy tblHospital).",
)

code_value = Table(
    "code_value", metadata,
    Column("code_system", Text, nullable=False),
    Column("code", Text, nullable=False),
    Column("label", Text, nullable=False),
    _run_col(),
    PrimaryKeyConstraint("code_system", "code"),
    schema="ref",
    comment="Shared code lists: ISTV_METHOD, ISTV_LOCATION, LFB_GROUP, LAS_CATEGORY, …",
)

import_batch = Table(
    "import_batch", metadata,
    Column("batch_id", Integer, primary_key=True, autoincrement=False),
    Column("dataset", Text, nullable=False),
    Column("file_name", Text, nullable=True),
    Column("loaded_at", TZ, nullable=True),
    Column("claimed_rows", Integer, nullable=True),
    Column("status", Text, nullable=False),
    Column("dq_flags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _run_col(),
    CheckConstraint("status IN ('OK', 'FAILED', 'RELOADED')", name="status"),
    schema="ref",
    comment="Legacy tblImportLog: the partner file batches rows were loaded from.",
)

# --------------------------------------------------------------------------- core
incident = Table(
    "incident", metadata,
    Column("incident_id", BigInteger, Identity(always=False), primary_key=True),
    Column("agency_code", Text, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("source_ref", Text(collation="C"), nullable=False),
    Column("legacy_pk", Text, nullable=False, comment="primary key of the winning legacy row (lineage)"),
    Column("batch_id", Integer, nullable=True, comment="legacy BatchID of the winning row"),
    Column("occurred_at", TZ, nullable=True),
    Column("occurred_precision", Text, nullable=False),
    Column("reported_at", TZ, nullable=True),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True),
    Column("ward_code", Text, nullable=True),
    Column("lsoa_code", CHAR(9), nullable=True),
    Column("geom", POINT, nullable=True,
           comment="exact location; the application may not select it and reads core.incident_masked"),
    Column("location_precision", Text, nullable=False),
    Column("dq_flags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _run_col(),
    UniqueConstraint("dataset", "source_ref"),
    CheckConstraint(_in("dataset", DATASETS), name="dataset"),
    CheckConstraint(_in("agency_code", AGENCIES), name="agency"),
    CheckConstraint(_in("occurred_precision", OCCURRED_PRECISION), name="occurred_precision"),
    CheckConstraint(_in("location_precision", LOCATION_PRECISION), name="location_precision"),
    CheckConstraint("length(btrim(source_ref)) > 0", name="source_ref_not_blank"),
    Index("ix_incident_gss_occurred", "gss_code", "occurred_at"),
    Index("ix_incident_load_run_id", "load_run_id"),
    Index("ix_incident_geom", "geom", postgresql_using="gist"),
    schema="core",
    comment="One row per incident from any agency; detail tables hold what is specific to each kind.",
)


def _detail(name: str, *cols: SchemaItem, schema: str = "core", comment: str = "") -> Table:
    return Table(
        name, metadata,
        Column("incident_id", BigInteger, ForeignKey("core.incident.incident_id", ondelete="CASCADE"),
               primary_key=True),
        *cols,
        _run_col(),
        schema=schema,
        comment=comment,
    )


police_crime = _detail(
    "police_crime",
    Column("offence_category_id", BigInteger, ForeignKey("ref.offence_category.id"), nullable=False),
    Column("force", Text, nullable=True),
    Column("location_text", Text, nullable=True),
    Column("outcome", Text, nullable=True),
    Column("domestic", Boolean, nullable=True),
    Column("knife", Boolean, nullable=True),
    comment="MPS / City of London Police recorded crime (legacy tblMPSCrime).",
)

fire_incident = _detail(
    "fire_incident",
    Column("incident_group", Text, nullable=True),
    Column("stop_code", Text, nullable=True),
    Column("property_category", Text, nullable=True),
    Column("property_type", Text, nullable=True),
    Column("postcode", Text, nullable=True),
    Column("first_pump_secs", Integer, nullable=True),
    Column("notional_cost", Numeric(19, 4), nullable=True),
    comment="LFB incidents (legacy tblLFBIncident).",
)

ambulance_assault = _detail(
    "ambulance_assault",
    Column("category", Text, nullable=True),
    Column("alcohol", Boolean, nullable=True),
    comment="LAS assault call-outs (legacy tblLASAssault).",
)

transport_crime = _detail(
    "transport_crime",
    Column("source_agency", Text, nullable=False),
    Column("mode", Text, nullable=True),
    Column("route", Text, nullable=True),
    Column("station", Text, nullable=True),
    Column("offence_desc", Text, nullable=True),
    comment="Crime on the transport network, BTP and MPS (legacy tblTransportCrime).",
)

# --------------------------------------------------------------------------- istv
ed_assault = _detail(
    "ed_assault",
    Column("ods_site_code", Text, ForeignKey("ref.ed_site.ods_site_code"), nullable=False),
    Column("reporting_month", Date, nullable=True),
    Column("arrival_at", TZ, nullable=True),
    Column("method_system", Text, nullable=False, server_default=text("'ISTV_METHOD'")),
    Column("assault_method", Text, nullable=True),
    Column("assault_method_other", Text, nullable=True),
    Column("location_system", Text, nullable=False, server_default=text("'ISTV_LOCATION'")),
    Column("location_type", Text, nullable=True),
    Column("location_text_clean", Text, nullable=True),
    Column("geocode_level", SmallInteger, nullable=True),
    Column("geocode_confidence", SmallInteger, nullable=True),
    CheckConstraint("method_system = 'ISTV_METHOD'", name="method_system"),
    CheckConstraint("location_system = 'ISTV_LOCATION'", name="location_system"),
    ForeignKeyConstraint(["method_system", "assault_method"], ["ref.code_value.code_system", "ref.code_value.code"]),
    ForeignKeyConstraint(["location_system", "location_type"], ["ref.code_value.code_system", "ref.code_value.code"]),
    schema="istv",
    comment="ED assault attendances (ISB 1594). No column may hold a patient identifier.",
)

# --------------------------------------------------------------------------- sec
organisation = Table(
    "organisation", metadata,
    Column("org_id", Integer, primary_key=True, autoincrement=False),
    Column("name", Text, nullable=False),
    Column("org_type", Text, nullable=False),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True),
    _run_col(),
    schema="sec",
)

app_user = Table(
    "app_user", metadata,
    Column("user_id", Integer, primary_key=True, autoincrement=False),
    Column("login", Text, nullable=False, unique=True),
    Column("email", Text, nullable=True),
    Column("org_id", Integer, ForeignKey("sec.organisation.org_id"), nullable=True),
    Column("can_see_istv", Boolean, nullable=False),
    Column("can_see_points", Boolean, nullable=False),
    Column("last_login_at", TZ, nullable=True),
    Column("disabled", Boolean, nullable=False),
    Column("dq_flags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _run_col(),
    schema="sec",
    comment="Users; no password column: the new system signs in through an identity provider.",
)

access_grant = Table(
    "access_grant", metadata,
    Column("grant_id", BigInteger, Identity(always=False), primary_key=True),
    Column("user_id", Integer, ForeignKey("sec.app_user.user_id", ondelete="CASCADE"), nullable=False),
    Column("dataset", Text, nullable=False),
    Column("gss_code", CHAR(9), ForeignKey("ref.local_authority.gss_code"), nullable=True,
           comment="NULL = all London"),
    Column("show_points", Boolean, nullable=False),
    _run_col(),
    CheckConstraint(_in("dataset", DATASETS), name="dataset"),
    Index("uq_access_grant_user_dataset_area", "user_id", "dataset", "gss_code", unique=True,
          postgresql_nulls_not_distinct=True),
    schema="sec",
    comment="Per-user grants: dataset × area (NULL = all London); drives row-level security.",
)

# --------------------------------------------------------------------------- ledger (own branch)
run = Table(
    "run", metadata,
    Column("run_id", BigInteger, Identity(always=False), primary_key=True),
    Column("kind", Text, nullable=False),
    Column("started_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("actor", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("package_version", Text, nullable=False),
    Column("mapping_hash", Text, nullable=True),
    Column("refdata_version", Text, nullable=True),
    Column("source_url", Text, nullable=True, comment="redacted: never holds a password"),
    Column("options", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint("kind IN ('full', 'delta', 'redrive', 'rollback', 'reconcile', 'cutover')", name="kind"),
    schema="ledger",
    comment="One row per invocation that changes or checks the target. Append-only.",
)

event = Table(
    "event", metadata,
    Column("event_id", BigInteger, Identity(always=False), primary_key=True),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=True),
    Column("stage", Text, nullable=True),
    Column("kind", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("ix_event_stage_event_id", "stage", "event_id"),
    schema="ledger",
    comment="Append-only event log; the state of every stage is a view over it (ledger.stage_state).",
)

checkpoint = Table(
    "checkpoint", metadata,
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("source_table", Text, nullable=False),
    Column("phase", Text, nullable=False),
    Column("chunk_no", Integer, nullable=False),
    Column("last_key", Text, nullable=True),
    Column("rows", Integer, nullable=False),
    Column("committed_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    PrimaryKeyConstraint("run_id", "stage", "source_table", "phase", "chunk_no"),
    schema="ledger",
    comment="One row per committed chunk, written in the chunk's own transaction.",
)

table_count = Table(
    "table_count", metadata,
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("source_table", Text, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Column("rows_loaded", BigInteger, nullable=False),
    Column("rows_merged", BigInteger, nullable=False),
    Column("rows_quarantined", BigInteger, nullable=False),
    Column("rows_filtered", BigInteger, nullable=False),
    Column("rows_unchanged", BigInteger, nullable=False, server_default=text("0")),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recorded_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    PrimaryKeyConstraint("run_id", "stage", "source_table"),
    schema="ledger",
    comment="Accounting per run and table; each term counted on its own.",
)

#: the records are only ever inserted; ``ledger.quarantine`` (a view, revision l0005) adds each
#: record's current state (``redriven_by_run_id``, ``rolled_back_at``) from its events
quarantine_record = Table(
    "quarantine_record", metadata,
    Column("quarantine_id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("source_table", Text, nullable=False),
    Column("source_key", Text, nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("fields", ARRAY(Text), nullable=False),
    Column("detail", Text, nullable=True, comment="non-sensitive explanation; never a row's payload"),
    Column("business_key", Text(collation="C"), nullable=True,
           comment="the row's business key, trimmed (NULL when blank); the legacy primary key is source_key"),
    Column("created_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Index("ix_quarantine_stage_source_key", "stage", "source_key"),
    Index("ix_quarantine_run_id", "run_id"),
    Index("ix_quarantine_stage_business_key", "stage", "business_key"),
    schema="ledger",
    comment="Rows that failed a rule: keys, reason and field names only, never the sensitive payload.",
)

#: the records are only ever inserted; ``ledger.disposition`` (a view) adds ``rolled_back_at``
disposition_record = Table(
    "disposition_record", metadata,
    Column("disposition_id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("source_table", Text, nullable=False),
    Column("source_key", Text, nullable=False),
    Column("disposition", Text, nullable=False),
    Column("reason_code", Text, nullable=False),
    Column("fields", ARRAY(Text), nullable=False),
    Column("created_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("business_key", Text(collation="C"), nullable=True,
           comment="the row's business key, trimmed (NULL when blank); the legacy primary key is source_key"),
    CheckConstraint("disposition IN ('filter', 'merged', 'unchanged')", name="disposition"),
    Index("ix_disposition_run_id_stage_source_table", "run_id", "stage", "source_table"),
    schema="ledger",
    comment="Rows deliberately not loaded: filtered by a rule or merged as a duplicate. Keys and reasons only.",
)

quarantine_event = Table(
    "quarantine_event", metadata,
    Column("event_id", BigInteger, Identity(always=False), primary_key=True),
    Column("quarantine_id", BigInteger, ForeignKey("ledger.quarantine_record.quarantine_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    CheckConstraint("kind IN ('redriven', 'redrive_undone', 'rolled_back')", name="kind"),
    Index("ix_quarantine_event_quarantine_id_event_id", "quarantine_id", "event_id"),
    Index("ix_quarantine_event_run_id", "run_id"),
    schema="ledger",
    comment="Changes of a quarantine record: redriven by run_id, that redrive undone, or its run rolled back "
            "(run_id = the rollback's subject run).",
)

disposition_event = Table(
    "disposition_event", metadata,
    Column("event_id", BigInteger, Identity(always=False), primary_key=True),
    Column("disposition_id", BigInteger, ForeignKey("ledger.disposition_record.disposition_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    CheckConstraint("kind IN ('rolled_back')", name="kind"),
    Index("ix_disposition_event_disposition_id", "disposition_id"),
    schema="ledger",
    comment="Changes of a disposition record: its run rolled back.",
)

#: what people decided about quarantined rows (revision l0006); a record's decision is the newest
#: decision whose ``quarantine_ids`` hold it
quarantine_decision = Table(
    "quarantine_decision", metadata,
    Column("decision_id", BigInteger, Identity(always=False), primary_key=True),
    Column("decision", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("stage", Text, nullable=True),
    Column("reason_code", Text, nullable=True),
    Column("key", Text, nullable=True),
    Column("record_count", Integer, nullable=False),
    Column("quarantine_ids", ARRAY(BigInteger), nullable=False),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    CheckConstraint("decision IN ('fix-and-redrive', 'accept-loss', 'corrected-at-source', 'undecided')",
                    name="decision"),
    Index("ix_quarantine_decision_quarantine_ids", "quarantine_ids", postgresql_using="gin"),
    schema="ledger",
    comment="What people decided about quarantined rows: the records open when the decision was made "
            "(quarantine_ids), the decision, note and who. The newest decision covering a record is its "
            "decision; undecided revokes. Append-only.",
)

#: sign-off records (revision l0007): a ledger record, not a cryptographic signature
signature = Table(
    "signature", metadata,
    Column("signature_id", BigInteger, Identity(always=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("report_sha256", Text, nullable=False),
    Column("report_path", Text, nullable=False),
    Column("verdict", Text, nullable=False),
    Column("incomplete", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("report_sha256 ~ '^[0-9a-f]{64}$'", name="report_sha256"),
    schema="ledger",
    comment="Sign-off records (report sign): name, role, user@host, when, the report's SHA-256 and verdict. "
            "A ledger record, not a cryptographic signature. Append-only.",
)

before_image = Table(
    "before_image", metadata,
    Column("image_id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("op", CHAR(1), nullable=False),
    Column("row_data", JSONB, nullable=False),
    Column("captured_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    CheckConstraint("op IN ('U', 'D')", name="op"),
    Index("ix_before_image_run_id_table_name", "run_id", "table_name"),
    schema="ledger",
    comment="The old row of every row a run updated (U) or deleted (D), for exact rollback.",
)

check_result = Table(
    "check_result", metadata,
    Column("result_id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("check_name", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("summary", Text, nullable=False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    CheckConstraint("status IN ('pass', 'warn', 'fail', 'error')", name="status"),
    Index("ix_check_result_stage_result_id", "stage", "result_id"),
    schema="ledger",
)

watermark = Table(
    "watermark", metadata,
    Column("run_id", BigInteger, ForeignKey("ledger.run.run_id"), nullable=False),
    Column("stage", Text, nullable=False),
    Column("source_table", Text, nullable=False),
    Column("kind", Text, nullable=False, comment="timestamp | batch | key"),
    Column("value", Text, nullable=True),
    Column("recorded_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    PrimaryKeyConstraint("run_id", "stage", "source_table", "kind"),
    schema="ledger",
    comment="Low watermarks recorded before a full extract, high ones after each delta.",
)

lock = Table(
    "lock", metadata,
    Column("lock_name", Text, primary_key=True),
    Column("holder", Text, nullable=False),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("command", Text, nullable=False),
    Column("acquired_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("backend_pid", Integer, nullable=False, comment="PostgreSQL backend holding the advisory lock"),
    schema="ledger",
    comment="Who holds the migration lock (the lock itself is a session advisory lock).",
)

#: the digest chain over the ledger (revision l0008, migration.ledger.seal)
seal = Table(
    "seal", metadata,
    Column("seal_id", BigInteger, Identity(always=False), primary_key=True),
    Column("run_id", BigInteger, nullable=True),
    Column("sealed_at", TZ, nullable=False, server_default=text("clock_timestamp()")),
    Column("sealed_by", Text, nullable=False),
    Column("command", Text, nullable=False),
    Column("catch_up", Boolean, nullable=False, server_default=text("false")),
    Column("rows", Integer, nullable=False),
    Column("up_to", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("prev_digest", Text, nullable=False),
    Column("digest", Text, nullable=False),
    UniqueConstraint("prev_digest"),
    CheckConstraint("digest ~ '^[0-9a-f]{64}$'", name="digest"),
    schema="ledger",
    comment="Digest chain over the ledger: each seal covers the rows not covered before (ledger.seal_row) "
            "and chains to the previous seal's digest. catch_up: rows a command left unsealed (killed before "
            "its seal). Append-only.",
)

seal_row = Table(
    "seal_row", metadata,
    Column("seal_id", BigInteger, ForeignKey("ledger.seal.seal_id"), nullable=False),
    Column("n", Integer, nullable=False),
    Column("table_name", Text, nullable=False),
    Column("pk", Text, nullable=False),
    Column("row_sha256", Text, nullable=False),
    PrimaryKeyConstraint("seal_id", "n"),
    UniqueConstraint("table_name", "pk"),
    schema="ledger",
    comment="Per sealed ledger row: its table, primary key (a JSON array) and the SHA-256 of its canonical "
            "form, in the order its seal hashed them. Append-only.",
)

DATA_TABLES = [t for t in metadata.sorted_tables if t.schema in DATA_SCHEMAS]
LEDGER_TABLES = [t for t in metadata.sorted_tables if t.schema in LEDGER_SCHEMAS]


def table(qualified: str) -> Table:
    """Look a table up by ``schema.name``."""
    return metadata.tables[qualified]
