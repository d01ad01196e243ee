"""Wake-ups from API writes to the controllers that care (in-process)."""

from __future__ import annotations

import asyncio
from collections import defaultdict


class Hints:
    """Topic → waiters. ``notify("nodepools")`` wakes every controller waiting on that topic."""

    def __init__(self) -> None:
        self._events: dict[str, set[asyncio.Event]] = defaultdict(set)

    def subscribe(self, topic: str) -> asyncio.Event:
        event = asyncio.Event()
        self._events[topic].add(event)
        return event

    def unsubscribe(self, topic: str, event: asyncio.Event) -> None:
        self._events[topic].discard(event)

    def notify(self, *topics: str) -> None:
        for topic in topics:
            for event in self._events.get(topic, ()):
                event.set()
