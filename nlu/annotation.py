"""Annotating inbox items: what an operator's label, correction, out-of-scope mark, ignore or
new intent does to data/ and to the inbox.

    open item ──label / oos / new intent──▶ data/ (validated) + the item's label recorded
    labelled item ──relabel──▶ its example moves to another intent's block
    open item ──ignore──▶ ignored (nothing is written into data/)

Each call is synchronous and takes several seconds (`rasa data validate` runs after every
edit; from an event loop call them with `asyncio.to_thread`). The example is written to data/
at once and the item's label recorded in the database in the same step (either both or
neither: nlu.validate.validated_edit). Refusals are nlu.rules' typed errors.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.orm import Session

from nlu import datafile, inbox
from nlu.datafile import EditResult
from nlu.plumbing import LoopPart, store_errors
from nlu.rules import (
    OUT_OF_SCOPE,
    Conflict,
    DataEditError,
    EntitiesJson,
    EntitySpan,
    Invalid,
    parse_spans,
)
from nlu.validate import validated_edit
from store.db import run_unit
from store.models import NluInboxItem, NluInboxStatus
from store.services import nlu_inbox

MAX_BATCH_LABEL: Final = 100
"""Inbox items one batch label (one edit, one Rasa validation) or batch ignore takes."""


@dataclass(kw_only=True)
class Annotator(LoopPart):
    validate: bool = True
    """Run `rasa data validate` after each edit (tests of other parts switch it off)."""

    # --- reading ---------------------------------------------------------------------------

    def inbox(
        self, *, status: str | None = NluInboxStatus.OPEN, limit: int = 50, offset: int = 0
    ) -> nlu_inbox.InboxPage:
        with store_errors():
            return run_unit(
                self.factory,
                lambda s: nlu_inbox.list_items(s, status=status, limit=limit, offset=offset),
            )

    def item(self, item_id: int) -> nlu_inbox.ItemDetail:
        settings = self.settings.inbox
        with store_errors():
            return run_unit(
                self.factory, lambda s: nlu_inbox.get_item(s, item_id, settings=settings)
            )

    def _item(self, item_id: int) -> NluInboxItem:
        """The item (NotFound through store_errors)."""
        return run_unit(self.factory, lambda s: nlu_inbox.item_row(s, item_id))

    def _open_item(self, item_id: int) -> NluInboxItem:
        item = self._item(item_id)
        if item.status not in (NluInboxStatus.OPEN, NluInboxStatus.IGNORED):
            what = f" as {item.label_intent}" if item.label_intent else ""
            raise Conflict(
                f"inbox item {item_id} is already {item.status}{what}: its example is in data/"
                " (relabel corrects a label)"
            )
        return item

    # --- one item --------------------------------------------------------------------------

    def _record(
        self, item_id: int, *, status: str, intent: str | None, entities: Sequence[EntitySpan],
        text: str, actor_id: int | None,
    ) -> Callable[[EditResult | None], None]:  # fmt: skip
        """The database half of an annotation (runs inside the edit, see validated_edit)."""

        def record(_result: EditResult | None) -> None:
            def work(session: Session) -> None:
                now = self.clock()
                if intent is None:
                    nlu_inbox.mark(session, item_id, status, by=actor_id, now=now)
                    return
                inbox.label(
                    session,
                    item_id,
                    intent=intent,
                    entities=[span.to_json(text) for span in entities],
                    by=actor_id,
                    now=now,
                    status=status,
                )

            run_unit(self.factory, work)

        return record

    def _annotate(
        self,
        item: NluInboxItem,
        *,
        status: str,
        intent: str | None,
        entities: EntitiesJson,
        actor_id: int | None,
        edit: Callable[[str, list[EntitySpan]], EditResult],
    ) -> EditResult:
        """Write the item's example with `edit`, validate, record the annotation."""
        spans = parse_spans(entities, item.text)
        return validated_edit(
            self.settings,
            lambda: edit(item.text, spans),
            validate=self.validate,
            then=self._record(
                item.id,
                status=status,
                intent=intent,
                entities=spans,
                text=item.text,
                actor_id=actor_id,
            ),
        )

    def label_item(
        self, item_id: int, intent: str, entities: EntitiesJson = (), *, actor: str,
        actor_id: int | None = None,
    ) -> EditResult:  # fmt: skip
        """Assign an intent (and entities: {"entity", "start", "end", "value"?} with offsets
        into the item's text) and write the example into data/."""
        with store_errors():
            return self._annotate(
                self._open_item(item_id),
                status=NluInboxStatus.LABELLED,
                intent=intent,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.add_example(self.settings, intent, text, spans),
            )

    def relabel_item(
        self, item_id: int, intent: str, entities: EntitiesJson = (), *, actor: str,
        actor_id: int | None = None,
    ) -> EditResult:  # fmt: skip
        """Correct a label: an item labelled (or marked out of scope) becomes an example of
        another existing intent; its line leaves the old intent's block in data/ and joins the
        new one's, in one validated edit. Not for an item that created its intent (that intent
        would be left with no example): change data/ by hand."""
        with store_errors():
            item = self._item(item_id)
            old = OUT_OF_SCOPE if item.status == NluInboxStatus.OUT_OF_SCOPE else item.label_intent
            if (
                item.status not in (NluInboxStatus.LABELLED, NluInboxStatus.OUT_OF_SCOPE)
                or old is None
            ):
                why = (
                    f"it created the intent {item.label_intent}; change data/ by hand"
                    if item.status == NluInboxStatus.NEW_INTENT
                    else "label it instead"
                )
                raise Conflict(f"inbox item {item_id} is {item.status}, not labelled: {why}")
            if intent == OUT_OF_SCOPE:
                raise Invalid("relabel gives an item an intent; out_of_scope is not one")
            return self._annotate(
                item,
                status=NluInboxStatus.LABELLED,
                intent=intent,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.relabel_example(
                    self.settings, old, intent, text, spans
                ),
            )

    def mark_item(
        self, item_id: int, status: str, *, actor: str, actor_id: int | None = None
    ) -> EditResult | None:
        """'out_of_scope' (an example of out_of_scope is written), 'ignored' or 'open' (only
        the inbox changes)."""
        with store_errors():
            if status == NluInboxStatus.OUT_OF_SCOPE:
                return self._annotate(
                    self._open_item(item_id),
                    status=status,
                    intent=None,
                    entities=(),
                    actor_id=actor_id,
                    edit=lambda text, _spans: datafile.add_out_of_scope(self.settings, text),
                )
            if status not in (NluInboxStatus.IGNORED, NluInboxStatus.OPEN):
                raise Invalid(f"an item is marked out_of_scope, ignored or open, not {status}")
            item = self._open_item(item_id)
            self._record(
                item_id, status=status, intent=None, entities=(), text=item.text,
                actor_id=actor_id,
            )(None)  # fmt: skip
            return None

    def create_intent(
        self,
        item_id: int,
        name: str,
        *,
        response_zh: str,
        response_en: str | None = None,
        entities: EntitiesJson = (),
        actor: str,
        actor_id: int | None = None,
    ) -> EditResult:
        """A new intent whose first example is the item: examples in data/nlu/operator.yml,
        the intent and its response utter_<name> in domain.yml, a rule in data/rules.yml."""
        with store_errors():
            return self._annotate(
                self._open_item(item_id),
                status=NluInboxStatus.NEW_INTENT,
                intent=name,
                entities=entities,
                actor_id=actor_id,
                edit=lambda text, spans: datafile.create_intent(
                    self.settings, name, text, response_zh, response_en, spans
                ),
            )

    # --- several items ---------------------------------------------------------------------

    @staticmethod
    def _batch(item_ids: Sequence[int], what: str) -> list[int]:
        ids = list(dict.fromkeys(item_ids))
        if not ids:
            raise Invalid(f"no inbox items to mark {what}")
        if len(ids) > MAX_BATCH_LABEL:
            raise Invalid(f"at most {MAX_BATCH_LABEL} items at once, not {len(ids)}")
        return ids

    def label_items(
        self, item_ids: Sequence[int], intent: str, *, actor: str, actor_id: int | None = None
    ) -> EditResult:
        """Give several items one intent (no entities) in one edit: their examples are written
        and Rasa validates once; when any is refused (not open, a duplicate, an unknown intent)
        nothing is written or recorded and the error names the item."""
        ids = self._batch(item_ids, f"as {intent}")
        with store_errors():
            texts = {item_id: self._open_item(item_id).text for item_id in ids}

            def apply() -> EditResult:
                results = []
                for item_id, text in texts.items():
                    try:
                        results.append(datafile.add_example(self.settings, intent, text))
                    except DataEditError as exc:
                        raise DataEditError(f"inbox item {item_id}: {exc}") from exc
                files = tuple(dict.fromkeys(f for result in results for f in result.files))
                return EditResult(intent, "\n".join(r.line for r in results), files)

            def record(_result: EditResult) -> None:
                def work(session: Session) -> None:
                    now = self.clock()
                    for item_id in ids:
                        inbox.label(session, item_id, intent=intent, by=actor_id, now=now)

                run_unit(self.factory, work)

            return validated_edit(self.settings, apply, validate=self.validate, then=record)

    def ignore_items(
        self, item_ids: Sequence[int], *, actor: str, actor_id: int | None = None
    ) -> list[int]:
        """Mark several open items ignored (noise: nothing is written into data/), in one
        transaction: all of them, or none when one is not open (the error names it)."""
        ids = self._batch(item_ids, NluInboxStatus.IGNORED)

        def work(session: Session) -> list[int]:
            now = self.clock()
            for item_id in ids:
                found = nlu_inbox.item_row(session, item_id)
                if found.status != NluInboxStatus.OPEN:
                    raise Conflict(f"inbox item {item_id} is {found.status}, not open")
                nlu_inbox.mark(session, found, NluInboxStatus.IGNORED, by=actor_id, now=now)
            return ids

        with store_errors():
            return run_unit(self.factory, work)
