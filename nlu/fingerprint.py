"""The training inputs' hash, byte for byte as scripts/lib.sh computes it.

scripts/train.sh skips a training when models/current.fingerprint equals

    hash_files config.yml domain.yml data nlu/dict requirements/rasa.in

that is `(cd ROOT && find ARGS -type f ! -name '*.pyc' -print0 | LC_ALL=C sort -z |
xargs -0 sha256sum) | sha256sum | cut -d' ' -f1`. A model the registry deploys gets its
training inputs' hash written beside models/current.tar.gz, so `make run` does not train it
again. This module reproduces that pipeline: the same files (regular files only: find without
-L neither follows nor lists symbolic links), the same byte order of the paths, the same
`sha256sum` lines (GNU escaping of backslashes and newlines in names included).
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from nlu.rules import Invalid

#: The arguments of `hash_files` in scripts/train.sh, relative to the project folder.
TRAINING_INPUTS: tuple[str, ...] = (
    "config.yml",
    "domain.yml",
    "data",
    "nlu/dict",
    "requirements/rasa.in",
)


class FingerprintError(Invalid):
    """An input is missing (the shell pipeline would fail too)."""


def _regular_files(root: Path, argument: str) -> Iterator[bytes]:
    """What `find ARGUMENT -type f ! -name '*.pyc'` prints, as bytes, in any order."""
    start = os.fsencode(argument)
    path = root / argument
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        raise FingerprintError(f"training input {argument} is missing in {root}") from None
    if stat.S_ISREG(mode):
        if not os.path.basename(start).endswith(b".pyc"):
            yield start
        return
    if not stat.S_ISDIR(mode):
        return
    for directory, subdirectories, files in os.walk(path, followlinks=False):
        subdirectories.sort()
        inside = os.path.relpath(directory, path)
        prefix = start if inside == "." else start.rstrip(b"/") + b"/" + os.fsencode(inside)
        for name in files:
            encoded = os.fsencode(name)
            if encoded.endswith(b".pyc"):
                continue
            if stat.S_ISREG(os.lstat(os.path.join(directory, name)).st_mode):
                yield prefix + b"/" + encoded
        # find lists symbolic links to directories as non-directories (not followed): os.walk
        # puts them in subdirectories but does not descend them with followlinks=False


def _sha256sum_line(digest: str, name: bytes) -> bytes:
    """One line of GNU `sha256sum FILE` output: names with a backslash or a newline (or CR)
    are escaped and the line starts with a backslash."""
    if b"\\" in name or b"\n" in name or b"\r" in name:
        escaped = name.replace(b"\\", b"\\\\").replace(b"\n", b"\\n").replace(b"\r", b"\\r")
        return b"\\" + digest.encode() + b"  " + escaped + b"\n"
    return digest.encode() + b"  " + name + b"\n"


def file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return sha.hexdigest()


def hash_files(root: Path, inputs: Iterable[str] = TRAINING_INPUTS) -> str:
    """The hex digest `hash_files INPUTS` prints when run in `root`."""
    # a file named twice (as an argument and inside a folder argument) is listed twice, as
    # find lists it twice
    names = sorted(name for argument in inputs for name in _regular_files(root, argument))
    outer = hashlib.sha256()
    if not names:
        # xargs runs sha256sum once without arguments: it hashes its (empty) stdin
        outer.update(_sha256sum_line(hashlib.sha256(b"").hexdigest(), b"-"))
    for name in names:
        outer.update(_sha256sum_line(file_sha256(root / os.fsdecode(name)), name))
    return outer.hexdigest()


def training_fingerprint(project_dir: Path) -> str:
    """The hash scripts/train.sh compares with models/current.fingerprint."""
    return hash_files(project_dir, TRAINING_INPUTS)
