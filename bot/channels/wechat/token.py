"""The access token, shared by every gateway replica through the database
(store/services/wechat_tokens.py), fetched by one replica at a time.

`get` answers from this process's copy while it has more than the refresh margin left
(conf/wechat.yml `token_refresh_margin_seconds`), else from the database, else it takes the
refresh lease and fetches a new token from WeChat; a replica that finds the lease taken waits
for the token the other one stores. `refused` (WeChat answered 40001/42001 with it) forgets the
token here and retires it in the database only if it is still the current one there.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.channels.wechat.api import TOKEN_HINTS, WeChatRefused, WeChatUnreachable
from store.db import in_thread
from store.services import wechat_tokens
from store.services.wechat_tokens import SharedToken

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[tuple[str, int]]]
LEASE = timedelta(seconds=30)
"""How long one replica's refresh may take before another may try."""
WAIT_STEP = 0.2
WAIT_ROUNDS = 100
"""A replica waiting for another's refresh looks this many times, WAIT_STEP apart."""


class TokenKeeper:
    def __init__(
        self,
        factory: sessionmaker[Session],
        app_id: str,
        fetch: Fetch,
        *,
        margin: timedelta,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._factory = factory
        self._app_id = app_id
        self._fetch = fetch
        self._margin = margin
        self._clock = clock
        self._owner = f"replica-{secrets.token_hex(6)}"
        self._copy: SharedToken | None = None
        self._lock = asyncio.Lock()
        self.fetches = 0
        """Tokens this process fetched from WeChat (tests, logs)."""

    def _fresh(self, token: SharedToken | None) -> bool:
        return token is not None and token.expires_at - self._margin > self._clock()

    async def get(self) -> str:
        """A token WeChat should accept now."""
        if self._copy is not None and self._fresh(self._copy):
            return self._copy.token
        async with self._lock:  # one refresh per process; the others reuse its result
            if self._copy is None or not self._fresh(self._copy):
                self._copy = await self._shared()
            return self._copy.token

    async def refused(self, token: str) -> None:
        """WeChat refused `token`: not used again here, retired in the database if current."""
        if self._copy is not None and self._copy.token == token:
            self._copy = None
        now = self._clock()

        def retire(session: Session) -> None:
            wechat_tokens.retire(session, self._app_id, token, now=now)

        await in_thread(self._factory, retire)

    async def _shared(self) -> SharedToken:
        for _ in range(WAIT_ROUNDS):
            stored, claimed = await in_thread(self._factory, self._read_or_claim)
            if stored is not None:
                return stored
            if claimed:
                return await self._refresh()
            await asyncio.sleep(WAIT_STEP)  # another replica is fetching it
        raise WeChatUnreachable("no access token: another replica holds the refresh")

    def _read_or_claim(self, session: Session) -> tuple[SharedToken | None, bool]:
        """The stored token if still fresh, else whether this replica got the refresh lease."""
        now = self._clock()
        stored = wechat_tokens.current(session, self._app_id, now=now, margin=self._margin)
        if stored is not None:
            return stored, False
        owner = self._owner
        return None, wechat_tokens.claim_refresh(
            session, self._app_id, owner=owner, now=now, lease=LEASE, margin=self._margin
        )

    async def _refresh(self) -> SharedToken:
        try:
            token, lifetime = await self._fetch()
        except BaseException as exc:
            await in_thread(self._factory, self._release)
            if isinstance(exc, WeChatRefused):
                hint = TOKEN_HINTS.get(exc.code, str(exc))
                log.error("WeChat refused to hand out an access token: %s", hint)
                # an operator's fix (secret, whitelist) lets the waiting messages go out later
                raise WeChatUnreachable(f"no access token: WeChat error {exc.code}") from None
            raise
        self.fetches += 1
        now = self._clock()
        fresh = SharedToken(token, now + timedelta(seconds=lifetime))

        def store(session: Session) -> None:
            wechat_tokens.store(
                session, self._app_id, token=token, expires_at=fresh.expires_at, now=now
            )

        await in_thread(self._factory, store)
        log.info("WeChat access token fetched (valid %d s)", lifetime)
        return fresh

    def _release(self, session: Session) -> None:
        wechat_tokens.release(session, self._app_id, owner=self._owner)
