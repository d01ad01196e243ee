"""Following events and logs: where a follower stands, as data, and the next call to make.

Both clients loop over these; only the waiting and the I/O differ between them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from flotilla.client import calls
from flotilla.client.http import Call
from flotilla.client.types import Event, LogLine, Page

FOLLOW_PAGE = 500
RECONNECT_LIMIT = 10_000
"""After a reconnect, every line since the last one seen is wanted, not only a tail."""


class EventCursor:
    """Events after ``after_id``, oldest first; ``start`` places it after the newest event."""

    def __init__(self, filters: Mapping[str, Any], after_id: int | None) -> None:
        self.filters = dict(filters)
        self.after_id = after_id

    def start(self, newest: Iterable[Event]) -> None:
        self.after_id = max((event.id for event in newest), default=0)

    def call(self) -> Call[Page[Event]]:
        return calls.list_events(self.filters, 1, FOLLOW_PAGE, after_id=self.after_id or 0)

    def read(self, page: Page[Event]) -> list[Event]:
        if page.items:
            self.after_id = max(self.after_id or 0, *(event.id for event in page.items))
        return page.items


class LogCursor:
    """Where a log follower is: the time of the last line it read, to reconnect from."""

    reconnect_delay = 1.0
    """The server ends a stream when no replica runs (or after a minute): look again soon."""

    def __init__(self, deployment: str, since: datetime | None, tail: int | None) -> None:
        self.deployment = deployment
        self.since = since
        self.tail = tail
        self.connected = False

    def call(self) -> Call[None]:
        limit = RECONNECT_LIMIT if self.connected else self.tail
        return calls.follow_logs(self.deployment, self.since, limit)

    def opened(self) -> None:
        """A stream was answered: from now on a 404 means the deployment went away."""
        self.connected = True

    def read(self, text: str) -> LogLine | None:
        """The line an NDJSON row holds (None for a keep-alive)."""
        if not text.strip():
            return None
        line = LogLine.model_validate_json(text)
        self.since = line.time
        return line


def documents_body(documents: str | Path | list[Mapping[str, Any]]) -> tuple[str, str]:
    """(body, content type) for ``/v1/apply``: YAML text, a file of it, or JSON documents."""
    if isinstance(documents, Path):
        return documents.read_text(encoding="utf-8"), "application/yaml"
    if isinstance(documents, str):
        return documents, "application/yaml"
    return json.dumps(list(documents)), "application/json"
