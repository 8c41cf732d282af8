"""Whether the locks still pin what their inputs ask: `python scripts/locks.py` (setup.sh runs it
before installing) names each pin of pyproject.toml or requirements/rasa.in that its lock does
not hold at that version, and each pin of a lock its constraints file for deploy/'s images
does not repeat, and exits 1: someone changed a pin and forgot `make lock`.

Standard library only: it runs on the interpreter that is about to create .venv.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*([^\s;#\\]+)")


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lines: list[str]) -> dict[str, str]:
    """`name==version` lines (extras and markers left out), by normalised name."""
    found = {}
    for line in lines:
        match = _PIN.match(line)
        if match:
            found[_name(match.group(1))] = match.group(2)
    return found


def _asked_by_pyproject(root: Path) -> dict[str, str]:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = list(project["dependencies"]) + list(project["optional-dependencies"]["dev"])
    return pins(wanted)


def stale(root: Path = ROOT) -> list[str]:
    """One line per pin its lock does not hold."""
    problems = []
    checks = [
        ("pyproject.toml", _asked_by_pyproject(root), "requirements/main.txt"),
        (
            "requirements/rasa.in",
            pins((root / "requirements/rasa.in").read_text(encoding="utf-8").splitlines()),
            "requirements/rasa.txt",
        ),
    ]
    for source, asked, lock_path in checks:
        lock = root / lock_path
        locked = pins(lock.read_text(encoding="utf-8").splitlines()) if lock.exists() else {}
        for name, version in sorted(asked.items()):
            if locked.get(name) != version:
                held = f"holds {locked[name]}" if name in locked else "does not hold it"
                problems.append(f"{source} pins {name}=={version}; {lock_path} {held}")
    for lock_path, constraints_path in CONSTRAINTS:
        problems += _constraints_problems(root, lock_path, constraints_path)
    return problems


CONSTRAINTS = (
    ("requirements/main.txt", "requirements/app-constraints.txt"),
    ("requirements/rasa.txt", "requirements/rasa-constraints.txt"),
)
"""Each lock and the constraints file deploy/'s image of it installs with."""


def _constraints_problems(root: Path, lock_path: str, constraints_path: str) -> list[str]:
    lock = root / lock_path
    if not lock.exists():
        return []
    locked = pins(lock.read_text(encoding="utf-8").splitlines())
    constraints = root / constraints_path
    text = constraints.read_text(encoding="utf-8") if constraints.exists() else ""
    held = pins(text.splitlines())
    if held == locked:
        return []
    return [f"{constraints_path} does not repeat the pins of {lock_path}"]


def main() -> int:
    problems = stale()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run 'make lock' to bring the locks up to date", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
