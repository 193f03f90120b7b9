"""The wheel carries the mapping and check files: installed into a fresh virtualenv, the
commands find them from any folder (issue 10: `mappings:0: no such file or directory`)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
STAGES = ["boroughs", "areas", "codes", "organisations", "users", "mps_crime", "lfb_incident", "las_assault",
          "transport_crime", "istv_assault"]


def _run(args: list[str], **kw) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    result = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(tmp: Path) -> Path:
    """Build the wheel from a copy of the checkout (no build/ or egg-info litter in it)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO / name, src)
    for folder in ("migration", "mappings", "checks"):
        shutil.copytree(REPO / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)])
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


@pytest.mark.slow
def test_an_installed_wheel_finds_its_mapping_and_check_files_from_any_folder(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    _run([str(py), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)])
    # the dependencies come from the shared virtualenv's site-packages, after the fresh one's own
    # (a plain path line: the shared venv's editable install of the checkout is not activated)
    (own_site,) = json.loads(_run([str(py), "-c", "import json, site; print(json.dumps(site.getsitepackages()))"])
                             .stdout)
    shared = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(own_site) / "shared-venv.pth").write_text("\n".join(shared) + "\n")

    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONSTARTUP", "VIRTUAL_ENV") and not k.startswith("SAFESTATS_")}
    elsewhere = tmp_path / "elsewhere"  # under /tmp, far from the checkout, no config file
    elsewhere.mkdir()
    cli = str(env_dir / "bin" / "safestats-migrate")

    probe = _run([str(py), "-c", "import json, migration; from migration.shipped import shipped_dir; "
                  "print(json.dumps([migration.__file__, str(shipped_dir('mappings')), str(shipped_dir('checks'))]))"],
                 cwd=elsewhere, env=env)
    package, mappings, checks = (Path(p) for p in json.loads(probe.stdout))
    assert package.is_relative_to(own_site), package  # the wheel's copy, not the checkout
    assert mappings.is_relative_to(own_site) and checks.is_relative_to(own_site)
    assert sorted(p.name for p in mappings.glob("*.yaml")) == sorted(p.name for p in (REPO / "mappings").glob("*.yaml"))
    assert sorted(p.name for p in checks.glob("*.yaml")) == sorted(p.name for p in (REPO / "checks").glob("*.yaml"))

    validated = _run([cli, "mappings", "validate"], cwd=elsewhere, env=env)
    assert "no such file" not in validated.stdout + validated.stderr
    plan = json.loads(_run([cli, "plan", "--json"], cwd=elsewhere, env=env).stdout)
    assert [s["stage"] for s in plan["stages"]] == STAGES
    shown = _run([cli, "--log-json", "config", "show"], cwd=elsewhere, env=env)
    rows = dict(next(json.loads(line) for line in shown.stderr.splitlines()
                     if json.loads(line)["message"] == "Effective settings")["rows"])
    assert rows["mappings_dir"] == f"{mappings}  [shipped with the package]"
    assert rows["checks_dir"] == f"{checks}  [shipped with the package]"
    assert rows["reports_dir"].startswith(f"{elsewhere.resolve() / 'reports'}  [")
