"""Alembic runs from an installed wheel: env.py and the revisions ship inside the package."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from migration.schema import api

_HISTORY = api.history()
DATA_HEAD = next(r.revision for r in _HISTORY if r.branch == "data" and r.is_head)
LEDGER_HEAD = next(r.revision for r in _HISTORY if r.branch == "ledger" and r.is_head)
ALL_REVISIONS = [r.revision for r in _HISTORY]


REPO = Path(__file__).resolve().parents[2]

PROBE = r"""
import json, sys
import migration
from migration.schema import api
url = sys.argv[1]
revisions = [r.revision for r in api.history()]
ddl = api.upgrade(None, sql=True).sql
change = api.upgrade(url)
print(json.dumps({
    "package": migration.__file__,
    "script_location": str(api.script_location()),
    "sys_path": sys.path,
    "revisions": revisions,
    "ddl_has_incident": "CREATE TABLE core.incident (" in ddl,
    "after": list(change.after),
    "check_ok": api.check(url).ok,
}))
"""


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
@pytest.mark.postgres
def test_the_schema_commands_work_from_an_installed_wheel(tmp_path: Path, pg_url: URL) -> None:
    # Build from a copy so the checkout gets no build/ or egg-info litter.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(REPO / "pyproject.toml", src)
    shutil.copy(REPO / "setup.py", src)
    for folder in ("migration", "mappings", "checks"):  # the mapping and check files ship in the package
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    if (REPO / "README.md").exists():
        shutil.copy(REPO / "README.md", src)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)])
    wheels = list((tmp_path / "dist").glob("*.whl"))
    assert len(wheels) == 1
    site = tmp_path / "site"
    _run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheels[0])])
    assert (site / "migration" / "schema" / "env.py").is_file()
    assert (site / "migration" / "schema" / "versions" / "d0002_data_tables.py").is_file()

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")}
    env["PYTHONPATH"] = str(site)  # ahead of the venv's editable install of the checkout
    run = tmp_path / "elsewhere"
    run.mkdir()
    result = _run([sys.executable, "-c", PROBE, pg_url.render_as_string(hide_password=False)], cwd=run, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])

    assert Path(report["package"]).is_relative_to(site)
    assert Path(report["script_location"]).is_relative_to(site)
    assert not any(p and Path(p).resolve() == REPO for p in report["sys_path"])
    assert report["revisions"] == ALL_REVISIONS
    assert report["ddl_has_incident"]
    assert sorted(report["after"]) == sorted([DATA_HEAD, LEDGER_HEAD])
    assert report["check_ok"]
