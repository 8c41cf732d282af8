"""The limits of one import (conf/imports.yml), read once and validated like every conf file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from store.config import default_conf_dir
from store.configuration.yamlfile import read_yaml


@dataclass(frozen=True)
class ImportLimits:
    max_upload_bytes: int = 32 * 1024 * 1024
    """The console's upload limit (the CLI reads files of any size up to max_rows)."""
    max_rows: int = 200_000
    max_cell_chars: int = 500
    max_title_rows: int = 10
    """Rows above the header a file may have (a title, an export date)."""


def load_import_limits(conf_dir: Path | None = None) -> ImportLimits:
    """conf/imports.yml of `conf_dir` (default: $CONF_DIR or the project's conf/)."""
    root = read_yaml((conf_dir or default_conf_dir()) / "imports.yml")
    return ImportLimits(
        max_upload_bytes=root["max_upload_bytes"].as_int(minimum=1024),
        max_rows=root["max_rows"].as_int(),
        max_cell_chars=root["max_cell_chars"].as_int(minimum=16),
        max_title_rows=root["max_title_rows"].as_int(minimum=0),
    )
