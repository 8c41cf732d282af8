"""nlu.fingerprint gives the hash scripts/lib.sh `hash_files` prints, byte for byte."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from nlu.fingerprint import TRAINING_INPUTS, FingerprintError, hash_files, training_fingerprint
from tests.fakes.nlu_project import ROOT


def shell_hash(root: Path, *inputs: str) -> str:
    """scripts/lib.sh's own function, run in `root` (it cds into $ROOT)."""
    script = f'. "{ROOT}/scripts/lib.sh"; ROOT="$1"; shift; hash_files "$@"'
    done = subprocess.run(
        ["bash", "-c", script, "hash", str(root), *inputs],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def test_the_repository_inputs_hash_like_the_shell() -> None:
    assert training_fingerprint(ROOT) == shell_hash(ROOT, *TRAINING_INPUTS)


def test_awkward_trees_hash_like_the_shell(tmp_path: Path) -> None:
    (tmp_path / "data" / "nlu" / "深").mkdir(parents=True)
    (tmp_path / "data" / ".hidden").mkdir()
    files = {
        "config.yml": "recipe: default.v1\n",
        "data/a.yml": "a",
        "data/B.yml": "b",
        "data/_x.yml": "x",
        "data/nlu/深/中文.yml": "中文",
        "data/nlu/with space.yml": "s",
        "data/nlu/back\\slash.yml": "bs",
        "data/nlu/new\nline.yml": "nl",
        "data/nlu/skip.pyc": "compiled",
        "data/.hidden/h.yml": "h",
        "data/empty.yml": "",
    }
    for name, content in files.items():
        (tmp_path / name).write_text(content, encoding="utf-8")
    os.symlink(tmp_path / "data" / "a.yml", tmp_path / "data" / "link.yml")
    os.symlink(tmp_path / "data" / "nlu", tmp_path / "data" / "linkdir")
    inputs = ("config.yml", "data")
    assert hash_files(tmp_path, inputs) == shell_hash(tmp_path, *inputs)
    # a file named twice is hashed twice, as find lists it twice
    twice = ("data", "data/a.yml")
    assert hash_files(tmp_path, twice) == shell_hash(tmp_path, *twice)


def test_a_changed_byte_changes_the_hash(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.yml").write_text("a")
    before = hash_files(tmp_path, ("data",))
    (tmp_path / "data" / "a.yml").write_text("b")
    assert hash_files(tmp_path, ("data",)) != before


def test_a_missing_input_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FingerprintError, match=r"domain\.yml"):
        hash_files(tmp_path, ("domain.yml",))
