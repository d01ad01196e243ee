"""``flotilla.Client``: the blocking SDK. ``aio.AsyncClient`` mirrors it method for method."""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from flotilla.client import calls
from flotilla.client.config import DEFAULT_RETRIES, DEFAULT_TIMEOUT, resolve
from flotilla.client.follow import EventCursor, documents_body
from flotilla.client.http import SyncHTTP
from flotilla.client.sync_collections import (
    CloudProviders,
    ComputeClusters,
    Deployments,
    InstanceTypes,
    Models,
    Nodepools,
    Tokens,
    Users,
    every_item,
)
from flotilla.client.types import (
    ApplyResponse,
    Event,
    Usage,
    User,
)


class Client:
    """Flotilla's API, blocking.

    ``url`` and ``token`` default to ``FLOTILLA_URL`` and ``FLOTILLA_TOKEN``, then to
    ``$FLOTILLA_HOME/credentials``; predictions go to ``gateway_url`` (``FLOTILLA_GATEWAY_URL``,
    or the server's host on port 8701). Every call has a ``timeout`` (seconds); idempotent calls
    are retried ``retries`` times, with back-off, after a connection error.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        *,
        gateway_url: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.config = resolve(url, token, gateway_url, timeout=timeout, retries=retries)
        self._http = SyncHTTP(self.config, transport)
        self.compute_clusters = ComputeClusters(self._http)
        self.clusters = self.compute_clusters
        self.nodepools = Nodepools(self._http)
        self.deployments = Deployments(self._http)
        self.models = Models(self._http)
        self.instance_types = InstanceTypes(self._http)
        self.cloud_providers = CloudProviders(self._http)
        self.tokens = Tokens(self._http)
        self.users = Users(self._http)

    @property
    def url(self) -> str:
        return self.config.url

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def predict(self, deployment: str, inputs: Any, *, timeout: float | None = None) -> Any:
        """Same as ``client.deployments.predict``."""
        return self.deployments.predict(deployment, inputs, timeout=timeout)

    def events(
        self,
        *,
        follow: bool = False,
        after_id: int | None = None,
        object_kind: str | None = None,
        object_id: str | None = None,
        reason: str | None = None,
        type: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        poll: float = 1.0,
    ) -> Iterator[Event]:
        """What happened to your objects and why: newest first, across pages. With ``follow``,
        oldest first from ``after_id`` on (from now on when not given), waiting for new ones;
        the loop runs until you stop it."""
        filters = {
            "object_kind": object_kind,
            "object_id": object_id,
            "reason": reason,
            "type": type,
            "since": since,
            "until": until,
        }
        if not follow:
            yield from every_item(
                self._http, lambda n: calls.list_events(filters, n, None, after_id=after_id)
            )
            return
        cursor = EventCursor(filters, after_id)
        if cursor.after_id is None:
            newest = self._http.run(calls.list_events(filters, 1, 1))
            cursor.start(newest.items)
        while True:
            found = self._http.run(cursor.call())
            yield from cursor.read(found)
            if found.next_page is None:
                self._http.sleep(poll)

    def usage(
        self,
        group_by: str = "compute_cluster",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Usage:
        """Node-hours and cost grouped by ``compute_cluster``, ``nodepool``, ``deployment``,
        ``instance_type`` or ``capacity_type``; the last 7 days by default."""
        return self._http.run(calls.usage(group_by, since, until))

    def apply(
        self,
        documents: str | Path | builtins.list[Mapping[str, Any]],
        *,
        dry_run: bool = False,
    ) -> ApplyResponse:
        """Create or update what the documents describe, all or nothing: YAML text (several
        documents separated by ``---``), a file of it, or a list of documents as dicts.
        Clarifai's config files are accepted too."""
        text, content_type = documents_body(documents)
        return self._http.run(calls.apply(text, content_type, dry_run))

    def me(self) -> User:
        return self.users.me()
