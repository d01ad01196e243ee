"""``flotilla.AsyncClient``: the SDK for asyncio, method for method what ``Client`` is."""

# ruff: noqa: ASYNC109 - ``timeout=`` is the SDK's word in both clients, as it is in httpx's.

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from flotilla.client import calls
from flotilla.client.aio_collections import (
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
from flotilla.client.config import DEFAULT_RETRIES, DEFAULT_TIMEOUT, resolve
from flotilla.client.follow import EventCursor, documents_body
from flotilla.client.http import AsyncHTTP
from flotilla.client.types import (
    ApplyResponse,
    Event,
    Usage,
    User,
)


class AsyncClient:
    """Flotilla's API, for asyncio: ``async with flotilla.AsyncClient() as client: …``.

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.config = resolve(url, token, gateway_url, timeout=timeout, retries=retries)
        self._http = AsyncHTTP(self.config, transport)
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

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def predict(self, deployment: str, inputs: Any, *, timeout: float | None = None) -> Any:
        """Same as ``client.deployments.predict``."""
        return await self.deployments.predict(deployment, inputs, timeout=timeout)

    async def events(
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
    ) -> AsyncIterator[Event]:
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
            async for event in every_item(
                self._http, lambda n: calls.list_events(filters, n, None, after_id=after_id)
            ):
                yield event
            return
        cursor = EventCursor(filters, after_id)
        if cursor.after_id is None:
            newest = await self._http.run(calls.list_events(filters, 1, 1))
            cursor.start(newest.items)
        while True:
            found = await self._http.run(cursor.call())
            for event in cursor.read(found):
                yield event
            if found.next_page is None:
                await self._http.sleep(poll)

    async def usage(
        self,
        group_by: str = "compute_cluster",
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Usage:
        """Node-hours and cost grouped by ``compute_cluster``, ``nodepool``, ``deployment``,
        ``instance_type`` or ``capacity_type``; the last 7 days by default."""
        return await self._http.run(calls.usage(group_by, since, until))

    async def apply(
        self,
        documents: str | Path | builtins.list[Mapping[str, Any]],
        *,
        dry_run: bool = False,
    ) -> ApplyResponse:
        """Create or update what the documents describe, all or nothing: YAML text (several
        documents separated by ``---``), a file of it, or a list of documents as dicts.
        Clarifai's config files are accepted too."""
        text, content_type = documents_body(documents)
        return await self._http.run(calls.apply(text, content_type, dry_run))

    async def me(self) -> User:
        return await self.users.me()
