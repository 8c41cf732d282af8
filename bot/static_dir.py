"""Files of bot/static/ read into memory, re-read only when one changed (size or mtime): what the
web chat's and the console's pages share."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Stamp = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Snapshot:
    raw: dict[str, bytes]
    """file name → its bytes"""
    version: str
    """a short hash of the assets' contents: their links change when they do"""
    stamp: Stamp


def read_if_changed(
    directory: Path, names: Sequence[str], assets: Iterable[str], stamp: Stamp
) -> Snapshot | None:
    """The files `names`, or None when none changed since `stamp`."""
    current = tuple((n, (st := (directory / n).stat()).st_mtime_ns, st.st_size) for n in names)
    if current == stamp:
        return None
    raw = {n: (directory / n).read_bytes() for n in names}
    digest = hashlib.sha256()
    for name in assets:
        digest.update(raw[name])
    return Snapshot(raw, digest.hexdigest()[:12], current)
