"""The import rule of docs/architecture.md, as import-linter contracts in pyproject.toml: the
floors (scripts > bot > nlu | actions > store), rasa_addons on its own, the gateway never
importing the actions nor the tables. `lint-imports` must keep every contract; and the rule
must bite: a lower floor importing a higher one breaks it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CONFIG = PYPROJECT["tool"]["importlinter"]
PACKAGES: list[str] = CONFIG["root_packages"]


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.fail("import-linter is not installed in .venv: pip install -e '.[dev]'")
    return subprocess.run(
        [str(command), "--no-cache"],
        cwd=cwd,
        env={"PATH": str(command.parent), "PYTHONPATH": str(cwd), "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_contract_is_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONFIG['contracts'])} kept, 0 broken." in result.stdout


def test_a_lower_floor_importing_a_higher_one_breaks_the_rule(tmp_path: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "static", "dict", "migrations"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    ids = tmp_path / "store" / "ids.py"
    ids.write_text(ids.read_text(encoding="utf-8") + "\nimport bot.texts\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "store is not allowed to import bot" in result.stdout
    assert "store.ids -> bot.texts" in result.stdout
