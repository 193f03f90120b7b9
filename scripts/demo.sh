#!/usr/bin/env bash
# The demo: generate a synthetic legacy SafeStats database (SQLite) and migrate it end to
# end into a fresh PostgreSQL + PostGIS database, printing what happens at each step.
set -euo pipefail
BIN=${BIN:-.venv/bin}
SCALE=${DEMO_SCALE:-0.002}
WORK=demo
PGHOST=${PGHOST:-127.0.0.1}
DEMO_DB=${SAFESTATS_DEMO_DB:-safestats_demo}
CLI="$BIN/safestats-migrate"
mkdir -p "$WORK"
rm -f "$WORK/legacy.sqlite" "$WORK/legacy.manifest.json"

echo "== 1. generate a synthetic legacy SafeStats database (scale $SCALE, seed 42)"
"$CLI" legacy generate --url "sqlite:///$WORK/legacy.sqlite" --scale "$SCALE" --seed 42

echo "== 2. create the demo target database $DEMO_DB on $PGHOST"
psql -h "$PGHOST" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
  -c "DROP DATABASE IF EXISTS $DEMO_DB WITH (FORCE)" -c "CREATE DATABASE $DEMO_DB"
export SAFESTATS_SOURCE_URL="sqlite:///$WORK/legacy.sqlite"
export SAFESTATS_TARGET_URL="postgresql+psycopg2://postgres@$PGHOST:5432/$DEMO_DB"
export SAFESTATS_REPORTS_DIR="$WORK/reports"
rm -rf "$WORK/reports" "$WORK/logs"

echo "== 3. bring the target schema to head"
"$CLI" schema upgrade
"$CLI" schema current

echo "== 4. check the mapping files against the model and the live legacy database"
"$CLI" mappings validate

echo "== 4b. the legacy audit before a row moves: profile predicts, per stage and reason, what the run will"
echo "       quarantine, flag, merge and load (read-only; HTML and JSON beside the report)"
"$CLI" profile --html "$WORK/profile.html" --json "$WORK/profile.json"

echo "== 4c. preflight: the ground checked (databases, schema, roles, grants, lock, mappings, legacy drift)"
"$CLI" preflight

echo "== 5. the plan"
"$CLI" plan

echo "== 6. run every stage (streamed, checkpointed, accounted; each stage reconciled before the next starts)"
"$CLI" run --all

echo "== 6b. the same plan again: every stage now says skip (run --dry-run shows what plan shows)"
"$CLI" run --all --dry-run

echo "== 7. what was quarantined (keys and reasons only)"
"$CLI" quarantine list

echo "== 8. the report QA signs off, from the checks the gate recorded (self-contained HTML, JSON, Markdown);"
echo "      --check exits 0 only when every planned stage is loaded and reconciled (PASS), 1 on FAIL, 3 on INCOMPLETE"
rm -rf "$WORK/report"
"$CLI" report --out "$WORK/report" --check

echo "== 9. the parallel run: the legacy keeps serving users — 30 days of activity (new batches, revisions,"
echo "      hard deletes, a re-submitted ISTV month) — and a nightly delta brings the target up to date"
"$CLI" legacy advance --url "$SAFESTATS_SOURCE_URL" --days 30 --seed 5
"$CLI" run --delta --all --dry-run
"$CLI" run --delta --all
"$CLI" reconcile --all

echo "== 10. cutover: freeze the legacy, final delta, reconcile"
"$CLI" cutover freeze
"$CLI" run --delta --all
"$CLI" reconcile --all

echo "== 11. QA decides about every open quarantined row (who, what, why — recorded in the ledger), the"
echo "       report is written, the go/no-go checklist is green, go is recorded"
for stage in $("$CLI" status --json | "$BIN/python" -c '
import json, sys
q = json.load(sys.stdin)["quarantine"]["by_reason"]
print(" ".join(sorted({r["stage"] for r in q if r["open"] and r["decision"] in (None, "undecided")})))'); do
  "$CLI" quarantine decide --stage "$stage" --as accept-loss --note "demo: reviewed with QA, loss accepted" \
    --by "QA (demo)"
done
"$CLI" report --check
echo "   the ledger's digest chain checked from its first row to its last (the report records its head):"
"$CLI" report verify
"$CLI" cutover
"$CLI" cutover go --yes
echo "   after the go, loads refuse (an error line and exit 2 expected):"
if "$CLI" run --delta --all; then echo "demo: run --delta after the go should have refused" >&2; exit 1; fi

echo "== 12. the chain again after the go (rows appended since the report are listed, none changed), and one"
echo "       screen of status"
"$CLI" report verify
"$CLI" status

echo "demo done: legacy in $WORK/legacy.sqlite (manifest $WORK/legacy.manifest.json), target database $DEMO_DB,"
echo "reports in $WORK/report/report.html (after the full load) and under $WORK/reports/ (at the go); each run's"
echo "log in $WORK/logs/"
