"""A short-lived, in-process cache of checked tokens, so a GET costs no token query.

Entries live ``token_cache_seconds``; any token change in this process clears the cache at once,
so a revoked token stops working here immediately (other server replicas within that time).
"""

from __future__ import annotations

from dataclasses import dataclass

from flotilla.domain.status import TokenFacts


@dataclass(frozen=True)
class CachedToken:
    caller: object  # services.context.Caller; kept loose to avoid an import cycle
    facts: TokenFacts
    valid_until: float


class TokenCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[str, CachedToken] = {}
        self._touched: dict[int, float] = {}

    def get(self, key: str, monotonic_now: float) -> CachedToken | None:
        entry = self._entries.get(key)
        if entry is None or entry.valid_until <= monotonic_now:
            return None
        return entry

    def put(self, key: str, caller: object, facts: TokenFacts, monotonic_now: float) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()
        self._entries[key] = CachedToken(caller, facts, monotonic_now + self.ttl)

    def should_touch(self, token_pk: int, monotonic_now: float, every_seconds: float) -> bool:
        last = self._touched.get(token_pk)
        if last is not None and monotonic_now - last < every_seconds:
            return False
        if len(self._touched) >= self.max_entries:
            self._touched.clear()
        self._touched[token_pk] = monotonic_now
        return True

    def invalidate(self) -> None:
        self._entries.clear()
