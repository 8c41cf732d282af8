"""The back office's repair work orders (conf/dispatch.yml): step-time limits, photos, the list.

Read once by whoever serves the work orders (bot/console/dispatch_api.py) with `load_dispatch`;
a bad value stops start-up naming the file and the key, like every other configuration file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from store.configuration.yamlfile import Label, Node, read_yaml
from store.models.crews import CALLBACK_RESULTS

FILE_NAME = "dispatch.yml"
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
"""The image types a photo may be (each is checked against the file's first bytes too)."""


@dataclass(frozen=True)
class StepTimeLimits:
    """How far from now the time of a recorded step may lie."""

    max_back: timedelta
    future_tolerance: timedelta


@dataclass(frozen=True)
class PhotoLimits:
    directory: Path
    max_bytes: int
    max_per_ticket: int
    types: frozenset[str]


@dataclass(frozen=True)
class DispatchConfig:
    step_time: StepTimeLimits
    photos: PhotoLimits
    page_size: int
    max_page_size: int
    due_soon: timedelta
    max_note_chars: int
    callback_results: dict[str, Label]
    """Each CallbackResult code with its wording."""


def _photos(node: Node, root: Path) -> PhotoLimits:
    directory = Path(node["directory"].as_str())
    types = frozenset(n.choice(PHOTO_TYPES) for n in node["types"].as_list())
    if not types:
        node["types"].fail("at least one image type")
    return PhotoLimits(
        directory=directory if directory.is_absolute() else root / directory,
        max_bytes=node["max_bytes"].as_int(minimum=1024),
        max_per_ticket=node["max_per_ticket"].as_int(),
        types=types,
    )


def load_dispatch(conf_dir: Path, root: Path) -> DispatchConfig:
    """conf_dir/dispatch.yml; relative photo directories are under `root` (the project)."""
    node = read_yaml(Path(conf_dir) / FILE_NAME)
    step = node["step_time"]
    listing = node["list"]
    page_size = listing["page_size"].as_int()
    most = listing["max_page_size"]
    if most.as_int() < page_size:
        most.fail(f"an integer >= list.page_size ({page_size})")
    return DispatchConfig(
        step_time=StepTimeLimits(
            max_back=timedelta(hours=step["max_back_hours"].as_int()),
            future_tolerance=timedelta(seconds=step["future_tolerance_seconds"].as_int(minimum=0)),
        ),
        photos=_photos(node["photos"], root),
        page_size=page_size,
        max_page_size=most.as_int(),
        due_soon=timedelta(minutes=listing["due_soon_minutes"].as_int()),
        max_note_chars=node["max_note_chars"].as_int(minimum=10),
        callback_results=_callback_results(node["callback_results"]),
    )


def _callback_results(node: Node) -> dict[str, Label]:
    found = {code: label.as_label() for code, label in node.items()}
    if set(found) != set(CALLBACK_RESULTS):
        node.fail(f"exactly the results {', '.join(CALLBACK_RESULTS)}")
    return found
