"""The environments' locks (requirements/main.txt, rasa.txt; `make lock`): they pin what
pyproject.toml and requirements/rasa.in ask, every pin carries hashes (pip's --require-hashes
refuses a lock with one bare pin), and the images' constraints are the same pins."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from scripts.locks import CONSTRAINTS, ROOT, pins, stale

LOCKS = ("requirements/main.txt", "requirements/rasa.txt")


def _entries(path: Path) -> list[str]:
    """The lock's requirement entries, each with its continuation lines joined."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    return [line for line in text.splitlines() if re.match(r"[A-Za-z0-9]", line)]


def test_the_locks_pin_what_their_inputs_ask() -> None:
    assert stale() == []


def test_every_locked_package_has_a_hash_and_an_exact_version() -> None:
    for lock in LOCKS:
        entries = _entries(ROOT / lock)
        assert len(entries) > 50, lock
        for entry in entries:
            assert re.match(r"[A-Za-z0-9._-]+==\S+", entry), entry
            assert "--hash=sha256:" in entry, f"{lock}: {entry.split()[0]} has no hash"


def test_the_images_constraints_are_the_locked_pins() -> None:
    assert {lock for lock, _ in CONSTRAINTS} == set(LOCKS)
    for lock, constraints_path in CONSTRAINTS:
        locked = pins((ROOT / lock).read_text(encoding="utf-8").splitlines())
        constraints = (ROOT / constraints_path).read_text(encoding="utf-8")
        assert pins(constraints.splitlines()) == locked
        assert "--hash" not in constraints
        assert ";" not in constraints  # no markers: pip applies a constraint only when needed


def test_a_pin_changed_without_make_lock_is_named(tmp_path: Path) -> None:
    (tmp_path / "requirements").mkdir()
    constraints = [path for _, path in CONSTRAINTS]
    for name in ("pyproject.toml", "requirements/rasa.in", *LOCKS, *constraints):
        shutil.copy(ROOT / name, tmp_path / name)
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"PyYAML==6.0.3"', '"PyYAML==6.0.2"'))
    rasa_in = tmp_path / "requirements/rasa.in"
    rasa_in.write_text(rasa_in.read_text() + "newpackage==1.0\n")
    assert stale(tmp_path) == [
        "pyproject.toml pins pyyaml==6.0.2; requirements/main.txt holds 6.0.3",
        "requirements/rasa.in pins newpackage==1.0; requirements/rasa.txt does not hold it",
    ]
    app = tmp_path / "requirements/app-constraints.txt"
    app.write_text(app.read_text().replace("aiohttp==", "aiohttp==0.0.0\n# was "))
    assert stale(tmp_path)[-1] == (
        "requirements/app-constraints.txt does not repeat the pins of requirements/main.txt"
    )
