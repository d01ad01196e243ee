"""What every service operation needs: the database, settings, clock, catalog, and who calls."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flotilla.catalog import Catalog, shipped_catalog
from flotilla.domain.errors import PermissionDenied
from flotilla.domain.states import Scope
from flotilla.domain.time import Clock, SystemClock
from flotilla.services.hints import Hints
from flotilla.services.token_cache import TokenCache
from flotilla.settings import Settings
from flotilla.store.db import Database


@dataclass
class Context:
    db: Database
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    catalog: Catalog = field(default_factory=shipped_catalog)
    hints: Hints = field(default_factory=Hints)
    token_cache: TokenCache = field(init=False)
    system_user_pk: int | None = None
    """The user that owns the shared cluster; known after bootstrap."""

    def __post_init__(self) -> None:
        self.token_cache = TokenCache(self.settings.token_cache_seconds)

    def now(self) -> datetime:
        return self.clock.now()


@dataclass(frozen=True)
class Caller:
    """An authenticated user acting through one token."""

    user_pk: int
    user_id: str
    is_admin: bool
    scopes: frozenset[Scope]
    token_pk: int | None = None
    token_id: str | None = None

    def require(self, scope: Scope) -> None:
        """Read is granted by any scope; write by write or admin."""
        if scope == Scope.READ and self.scopes:
            return
        if scope not in self.scopes and Scope.ADMIN not in self.scopes:
            raise PermissionDenied(f"this token lacks the '{scope}' scope; create one that has it")

    def require_admin(self) -> None:
        if not (self.is_admin and Scope.ADMIN in self.scopes):
            raise PermissionDenied(
                "only an admin, with a token that has the 'admin' scope, may do this"
            )
