"""Point reads: one indexed SELECT, run on the bare driver instead of the async ORM.

A single-object GET is the API's hottest call. Through an ``AsyncSession`` its one query costs
about 0.5 ms of CPU here (statement cache key, session and transaction objects, the greenlet
bridge, and on SQLite four hops to the aiosqlite thread), more than the rest of the request
together. A ``PointQuery`` is a Core ``SELECT`` compiled once per dialect; ``PointReader`` runs
it:

- on SQLite, on a plain ``sqlite3`` connection in the calling (event loop) thread. In WAL mode a
  read by an index takes microseconds and never waits for writers, which is less than a thread
  hop costs. Only for indexed lookups of a row or a few: it blocks the loop while it runs.
- on PostgreSQL, on a small pool of plain ``psycopg`` connections (autocommit, statements
  prepared by the driver after a few uses).

Each statement sees the latest committed data, as ``Database.read`` sessions do. Column types
convert results as SQLAlchemy would (``UTCDateTime`` gives aware UTC datetimes on both), and
parameters as SQLAlchemy would bind them (``store.prepared``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import Dialect

from flotilla.store.prepared import PointQuery

__all__ = ["PG_CONNECTIONS", "PointQuery", "PointReader"]
PG_CONNECTIONS = 4
"""Point reads take well under a millisecond each: a few connections serve many requests."""


class PointReader:
    """Runs ``PointQuery``s for one database. ``close`` releases its connections."""

    def __init__(self, dialect: Dialect, *, sqlite_path: str | None, libpq_url: str | None):
        self.dialect = dialect
        self.sqlite_path = sqlite_path
        self.libpq_url = libpq_url
        self._local = threading.local()
        self._sqlite: list[sqlite3.Connection] = []
        self._pg_idle: list[Any] = []
        self._pg_slots = asyncio.Semaphore(PG_CONNECTIONS)

    async def all(self, query: PointQuery, params: Mapping[str, Any]) -> list[Any]:
        """The rows ``query`` selects with ``params`` (named as in its bind parameters)."""
        compiled = query.compiled(self.dialect)
        sql, values = compiled.bind(params)
        if self.sqlite_path is not None:
            raw = self._sqlite_connection().execute(sql, values).fetchall()
        else:
            raw = await self._pg_fetch(sql, values)
        return query.rows(raw, compiled.results)

    async def first(self, query: PointQuery, params: Mapping[str, Any]) -> Any | None:
        rows = await self.all(query, params)
        return rows[0] if rows else None

    def _sqlite_connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            assert self.sqlite_path is not None
            # check_same_thread=False only so that ``close`` may run in another thread; each
            # connection is used by the thread that opened it
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA query_only=ON")
            conn.execute("PRAGMA busy_timeout=1000")
            self._local.conn = conn
            self._sqlite.append(conn)
        return conn

    async def _pg_fetch(self, sql: str, values: Mapping[str, Any]) -> list[Any]:
        import psycopg

        async with self._pg_slots:
            conn = self._pg_idle.pop() if self._pg_idle else await self._pg_connect()
            try:
                raw = await _pg_run(conn, sql, values)
            except psycopg.OperationalError:
                # a connection the server dropped: forget it, and try once on a fresh one
                await conn.close()
                conn = await self._pg_connect()
                raw = await _pg_run(conn, sql, values)
            self._pg_idle.append(conn)
        return raw

    async def _pg_connect(self) -> Any:
        import psycopg

        assert self.libpq_url is not None
        return await psycopg.AsyncConnection.connect(self.libpq_url, autocommit=True)

    async def close(self) -> None:
        for conn in self._sqlite:
            conn.close()
        self._sqlite.clear()
        self._local = threading.local()
        idle, self._pg_idle = self._pg_idle, []
        for pg in idle:
            await pg.close()


async def _pg_run(conn: Any, sql: str, values: Mapping[str, Any]) -> list[Any]:
    """Run on ``conn``; a connection that failed is closed, never reused."""
    try:
        return list(await (await conn.execute(sql, values)).fetchall())
    except BaseException:
        await conn.close()
        raise
