"""An aiosqlite connection that runs each call on the caller's thread.

aiosqlite hands every statement to a worker thread and wakes the event loop with the result:
right for a server, where the loop must keep answering while SQLite works. A batch run in which
one task does everything (the simulation replaying a day of traffic) gains nothing from that and
pays two thread switches per statement; this connection calls SQLite directly instead. Only
``Database(..., inline=True)`` uses it.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite


class _CallNow:
    """Stands in for aiosqlite's queue to its worker thread: runs each call as it is queued."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as error:  # handed to the awaiting caller, as the thread would
            if future is not None and not future.done():
                future.set_exception(error)
            return
        if future is not None and not future.done():
            future.set_result(result)


class InlineConnection(aiosqlite.Connection):
    def __init__(self, connector: Callable[[], sqlite3.Connection]) -> None:
        super().__init__(connector, iter_chunk_size=64)
        self._tx = _CallNow()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no worker thread to start

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Every statement, commit and cursor call: run now (no future to create and await)."""
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def inline_creator(path: str, **kwargs: Any) -> Callable[[], Any]:
    """An ``async_creator`` for SQLAlchemy's aiosqlite dialect."""

    async def connect() -> aiosqlite.Connection:
        return await InlineConnection(lambda: sqlite3.connect(path, **kwargs))

    return connect
