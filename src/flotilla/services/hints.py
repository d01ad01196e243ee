"""Wake-ups from API writes to the controllers that care.

In-process, a topic wakes every waiter at once. With PostgreSQL, ``PgHintBridge`` also carries
them to the other server replicas (``NOTIFY flotilla, 'topic'`` out, ``LISTEN flotilla`` in).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from flotilla.store.db import after_commit

log = logging.getLogger("flotilla.hints")

CHANNEL = "flotilla"


class Hints:
    """Topic → waiters. ``notify("nodepools")`` wakes every controller waiting on that topic."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)
        self.forward: Callable[[str], None] | None = None
        """Also sends each notified topic elsewhere (to other server replicas)."""

    def subscribe(self, topic: str) -> asyncio.Event:
        event = asyncio.Event()
        self._events[topic].add(event)
        return event

    def unsubscribe(self, topic: str, event: asyncio.Event) -> None:
        self._events[topic].discard(event)

    def notify(self, *topics: str) -> None:
        """Wake the waiters of ``topics`` — after the current write transaction commits, if one
        is open, so that they read what it wrote."""
        after_commit(lambda: self._notify_now(topics))

    def _notify_now(self, topics: tuple[str, ...]) -> None:
        for topic in topics:
            self.notify_here(topic)
            if self.forward is not None:
                self.forward(topic)

    def notify_here(self, topic: str) -> None:
        for event in self._events.get(topic, ()):
            event.set()


class PgHintBridge:
    """Hints across server replicas through PostgreSQL's LISTEN/NOTIFY."""

    def __init__(self, hints: Hints, conninfo: str) -> None:
        self.hints = hints
        self.conninfo = conninfo
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.hints.forward = self._send
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._notify())]

    def _send(self, topic: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):  # a wake-up lost is caught by polling
            self._outbox.put_nowait(topic)

    async def _listen(self) -> None:
        import psycopg

        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self.conninfo, autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    async for message in conn.notifies():
                        self.hints.notify_here(message.payload)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database restarted: listen again shortly
                log.warning("hint listener lost its connection (%s); reconnecting", error)
                await asyncio.sleep(1.0)

    async def _notify(self) -> None:
        """Send hints on one kept connection (a new one per burst cost PostgreSQL a backend
        per API write); topics waiting together are sent once each, as a hint is a wake-up."""
        import psycopg

        conn: psycopg.AsyncConnection[Any] | None = None
        try:
            while True:
                topics = {await self._outbox.get()}
                while not self._outbox.empty():
                    topics.add(self._outbox.get_nowait())
                try:
                    if conn is None or conn.closed:
                        conn = await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
                    for topic in sorted(topics):
                        await conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, topic))
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # the database restarted: connect again next time
                    log.warning("could not send hints %s: %s", sorted(topics), error)
                    if conn is not None:
                        await conn.close()
                    conn = None
        finally:
            if conn is not None:
                await conn.close()

    async def close(self) -> None:
        self.hints.forward = None
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
