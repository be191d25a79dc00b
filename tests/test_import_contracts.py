"""The import-linter contracts in pyproject.toml hold, and each one fails when its reason is removed.

Every check runs `lint-imports` on a copy of the package in a temporary folder, so breaking a
contract never touches the real tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _copy_project(tmp_path: Path) -> Path:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "usabtest", tmp_path / "usabtest",
                    ignore=shutil.ignore_patterns("__pycache__", "_resources"))
    return tmp_path


def _lint_imports(project: Path) -> subprocess.CompletedProcess:
    # lint-imports puts its working directory first on sys.path, so it analyses the copy.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120, check=False)


def _broken(output: str) -> set[str]:
    """Names of the broken contracts in lint-imports' summary (names may wrap over two lines)."""
    summary = output.split("Broken contracts")[0].replace("\n", " ")
    return {name for name in CONTRACTS.values() if f"{name} BROKEN" in " ".join(summary.split())}


CONTRACTS = {
    "layers": "Domains depend one way: accounts, planning, observe, analysis, reports over core; "
              "policy, then API and home on top",
    "services-no-policy": "Services, queries and models never ask the permission layer: views and the API do",
    "web-on-top": "Nothing below the web layer imports page views, the home pages or the API",
    "pure-logic": "Pure logic imports no Flask and no database",
}


def test_every_contract_holds_on_the_real_tree(tmp_path):
    result = _lint_imports(_copy_project(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(("module", "added_import", "contract"), [
    # An earlier domain reaching into a later one: accounts <-> reports would be a cycle.
    ("accounts/models.py", "from usabtest.reports import models as _reports", "layers"),
    ("planning/models.py", "from usabtest.observe.models import TaskAttempt as _attempt", "layers"),
    # A service asking the permission layer instead of being told by its caller.
    ("planning/services.py", "from usabtest import policy as _policy", "services-no-policy"),
    # Domain code depending on the pages built on top of it.
    ("reports/services.py", "from usabtest.planning import views as _views", "web-on-top"),
    # Pure logic reaching for the database or Flask.
    ("analysis/metrics.py", "from usabtest.extensions import db as _db", "pure-logic"),
    ("planning/scheduling.py", "import flask as _flask", "pure-logic"),
])
def test_removing_a_contracts_reason_breaks_it(tmp_path, module, added_import, contract):
    project = _copy_project(tmp_path)
    target = project / "usabtest" / module
    target.write_text(target.read_text() + f"\n{added_import}  # noqa\n")
    result = _lint_imports(project)
    assert result.returncode != 0
    assert CONTRACTS[contract] in _broken(result.stdout), result.stdout
