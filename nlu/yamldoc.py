"""Round-trip YAML documents: an edit of a file people wrote keeps it as they wrote it.

Comments, key order, quotes, `examples: |` block literals and each file's own indentation
(some files indent their lists, some do not) are kept: a file is loaded with the layouts
ruamel.yaml can write until one reproduces it byte for byte (`Document.load`), and the edited
text must differ from the old one only by added lines, or by one example line taken out
(`Document.render`), or the edit is refused (DataEditError) and nothing is written.
"""

from __future__ import annotations

import difflib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import LiteralScalarString

from nlu.rules import DataEditError

#: Layouts tried, in order: (mapping indent, sequence indent, sequence dash offset).
LAYOUTS: tuple[tuple[int, int, int], ...] = (
    (2, 2, 0),
    (2, 4, 2),
    (4, 4, 2),
    (2, 4, 0),
    (4, 6, 4),
    (4, 4, 0),
)


def _null(representer: Any, _data: None) -> Any:
    """Write None as `null` (rules and stories say `active_loop: null`), not as nothing."""
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _yaml(layout: tuple[int, int, int]) -> YAML:
    handler = YAML()
    handler.preserve_quotes = True
    handler.width = 4096  # never fold long lines
    mapping, sequence, offset = layout
    handler.indent(mapping=mapping, sequence=sequence, offset=offset)
    handler.representer.add_representer(type(None), _null)
    return handler


def _dump(handler: YAML, data: Any) -> str:
    buffer = io.StringIO()
    handler.dump(data, buffer)
    return buffer.getvalue()


class Document:
    """A YAML file loaded for a round-trip edit in the layout that reproduces it exactly."""

    def __init__(self, path: Path, text: str, handler: YAML, data: Any, label: str) -> None:
        self.path, self.text, self.handler, self.data, self.label = path, text, handler, data, label

    @classmethod
    def load(cls, path: Path, label: str | None = None) -> Document:
        label = label or path.name
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise DataEditError(f"cannot read {label}: {exc.strerror or exc}") from exc
        for layout in LAYOUTS:
            handler = _yaml(layout)
            try:
                data = handler.load(text)
            except YAMLError as exc:
                raise DataEditError(f"{label} is not valid YAML: {exc}") from exc
            if _dump(handler, data) == text:
                return cls(path, text, handler, data, label)
        raise DataEditError(
            f"{label} cannot be edited without reformatting it (ruamel.yaml does not reproduce"
            " its layout); edit it by hand"
        )

    def render(self, removed: str | None = None) -> str:
        """The edited text; refused unless the only change is added lines (or, with `removed`,
        that one example line taken out and nothing else)."""
        new = _dump(self.handler, self.data)
        old_lines = self.text.splitlines(keepends=True)
        matcher = difflib.SequenceMatcher(None, old_lines, new.splitlines(keepends=True), False)
        changed = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        if removed is None:
            ok = all(op[0] == "insert" for op in changed)
        else:
            gone = [line for op in changed for line in old_lines[op[1] : op[2]]]
            ok = all(op[0] == "delete" for op in changed) and [g.strip() for g in gone] == [
                f"- {removed}"
            ]
        if not ok:
            what = "take out one example" if removed is not None else "add lines"
            raise DataEditError(
                f"editing {self.label} would change existing lines, not only {what};"
                " edit it by hand"
            )
        return new


def write_atomically(path: Path, text: str) -> None:
    """Replace the file in one step (readers see the old or the new text, never half)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def append_item(sequence: CommentedSeq, item: Any) -> None:
    """Append to a block sequence, moving a blank line or comment that followed the last
    item below the new one (so the new item joins the list instead of the next section)."""
    last = len(sequence) - 1
    trailing = sequence.ca.items.pop(last, None) if last >= 0 else None
    sequence.append(item)
    if trailing is not None:
        sequence.ca.items[last + 1] = trailing


def append_example_line(block: CommentedMap, line: str) -> None:
    examples = block.get("examples")
    if not isinstance(examples, str):
        intent = block.get("intent")
        raise DataEditError(f"intent {intent}: its examples are not an `examples: |` block")
    text = str(examples)
    if text and not text.endswith("\n"):
        text += "\n"
    block["examples"] = LiteralScalarString(f"{text}- {line}\n")
