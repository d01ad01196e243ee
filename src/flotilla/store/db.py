"""The database handle: engines, read and write transactions.

SQLite (the embedded default) runs in WAL mode with one writer at a time: write transactions
take an in-process lock, so a server process never meets ``database is locked``; readers are never
blocked. SQLite therefore suits one server process; several server replicas need PostgreSQL.

Request handlers use the async engine. Bulk work — a controller pass reading thousands of rows —
runs in one worker thread on the plain driver (``read_in_thread``/``write_in_thread``): one thread
hop for the whole pass instead of several per statement.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from flotilla.store.inline import inline_creator
from flotilla.store.point import PointQuery, PointReader

T = TypeVar("T")

_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar(
    "flotilla_after_commit", default=None
)


def after_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the write transaction this code runs in has committed (never, if it
    rolls back); at once outside a write transaction. Wake-ups of other tasks go through here, so
    that what they wake up to read is already there."""
    pending = _after_commit.get()
    if pending is None:
        callback()
    else:
        pending.append(callback)


READ_ONLY = "flotilla_read_only"
"""Marks the engine whose statements each stand alone (no BEGIN)."""


class Database:
    """Owns the engines; hands out sessions. Created by the entry point and passed in."""

    def __init__(
        self, url: str, *, echo: bool = False, pool_size: int = 10, inline: bool = False
    ) -> None:
        """``inline``: run every statement on the calling thread, never in worker threads — for
        batch runs (the simulation) where one task does everything and nothing else waits on the
        event loop. A server keeps the default."""
        self.url = url
        self.inline = inline
        parsed = make_url(url)
        self.dialect = parsed.get_backend_name()
        self.is_sqlite = self.dialect == "sqlite"
        kwargs: dict[str, Any] = {}
        if self.is_sqlite:
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
            # Connections are kept, not opened per request (each aiosqlite one is a thread).
            kwargs.update(pool_size=pool_size * 2, max_overflow=0)
            if inline:
                kwargs["async_creator"] = inline_creator(
                    parsed.database or ":memory:", timeout=30, check_same_thread=False
                )

        else:
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **kwargs)
        # Request reads run each statement on its own (no BEGIN/ROLLBACK round trips), on their
        # own pool so connections never switch isolation level.
        self.read_engine: AsyncEngine = create_async_engine(
            url,
            echo=echo,
            isolation_level="AUTOCOMMIT",
            execution_options={READ_ONLY: True},
            pool_reset_on_return=None,  # nothing to roll back: no transaction is ever open
            **kwargs,
        )

        sync_url = parsed.set(drivername=parsed.drivername.replace("+aiosqlite", ""))
        sync_kwargs = dict(kwargs)
        sync_kwargs.pop("async_creator", None)
        if self.is_sqlite:  # pooled connections move between worker threads
            sync_kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.sync_engine: Engine = create_engine(sync_url, echo=echo, **sync_kwargs)

        # Nothing is ever open to roll back on the read engine: skip the round trip that
        # closing a session would otherwise make.
        self.read_engine.sync_engine.dialect.do_rollback = _nothing_to_roll_back  # type: ignore[method-assign]
        if self.is_sqlite:
            _configure_sqlite(self.engine.sync_engine)
            _configure_sqlite(self.read_engine.sync_engine)
            _configure_sqlite(self.sync_engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=False)
        self._read_sessions = async_sessionmaker(
            self.read_engine, expire_on_commit=False, autoflush=False
        )
        self._sync_sessions = sessionmaker(
            self.sync_engine, expire_on_commit=False, autoflush=False
        )
        self._write_lock = asyncio.Lock()
        in_memory = self.is_sqlite and parsed.database in (None, "", ":memory:")
        self._points = (
            None  # another connection would see another database: sessions it is
            if in_memory
            else PointReader(
                self.engine.dialect,
                sqlite_path=parsed.database if self.is_sqlite else None,
                libpq_url=None if self.is_sqlite else self.libpq_url,
            )
        )

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reading: each statement sees the latest committed data; nothing it
        does is committed."""
        async with self._read_sessions() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits when the block ends and rolls back if it raises."""
        callbacks: list[Callable[[], None]] = []
        outer = _after_commit.set(callbacks)
        try:
            if self.is_sqlite:
                async with self._write_lock, self._sessions() as session, session.begin():
                    yield session
            else:
                async with self._sessions() as session, session.begin():
                    yield session
        finally:
            _after_commit.reset(outer)
        for callback in callbacks:  # committed: only reached when the block did not raise
            callback()

    async def read_point(self, query: PointQuery, **params: Any) -> Any | None:
        """The first row of an indexed point read, without a session (see ``store.point``):
        the latest committed data, like ``read``. For a row or a few found by an index only."""
        if self._points is None:
            async with self.read() as session:
                return (await session.execute(query.statement, params)).first()
        return await self._points.first(query, params)

    async def read_in_thread(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` with a read session in a worker thread; nothing is committed."""

        def run() -> T:
            with self._sync_sessions() as session:
                return work(session)

        if self.inline:
            return run()
        return await asyncio.to_thread(run)

    async def write_in_thread(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction in a worker thread (after other writers, on SQLite)."""

        def run() -> T:
            with self._sync_sessions() as session, session.begin():
                return work(session)

        if self.inline:
            async with self._write_lock:
                return run()
        if self.is_sqlite:
            async with self._write_lock:
                return await asyncio.to_thread(run)
        return await asyncio.to_thread(run)

    @property
    def libpq_url(self) -> str:
        """The URL without SQLAlchemy's driver suffix, for a plain psycopg connection."""
        parsed = make_url(self.url)
        return parsed.set(drivername=parsed.get_backend_name()).render_as_string(
            hide_password=False
        )

    async def dispose(self) -> None:
        if self._points is not None:
            await self._points.close()
        await self.engine.dispose()
        await self.read_engine.dispose()
        self.sync_engine.dispose()


def _nothing_to_roll_back(dbapi_connection: Any) -> None:
    del dbapi_connection


def _configure_sqlite(engine: Engine) -> None:

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (see "begin" below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if not connection.get_execution_options().get(READ_ONLY):
            # On the driver's cursor: a transaction starts with every write, and the full
            # statement machinery (exec_driver_sql) cost more than the BEGIN itself.
            cursor = connection.connection.cursor()
            try:
                cursor.execute("BEGIN")
            finally:
                cursor.close()
