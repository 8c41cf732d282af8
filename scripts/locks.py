"""Whether the locks still pin what their inputs ask: `python scripts/locks.py` (setup.sh runs it
before installing) names each pin of pyproject.toml or requirements/rasa.in that its lock does
not hold at that version, and exits 1: someone changed a pin and forgot `make lock`.

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
    return problems


def main() -> int:
    problems = stale()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print("run 'make lock' to bring the locks up to date", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
