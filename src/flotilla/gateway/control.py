"""The gateway's side of the control plane, through the server's HTTP API: who a token belongs
to (cached), the routes (long-polled) and traffic reports. None of it is on a request's hot path
except a token the cache has not seen."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx

from flotilla.gateway.errors import Answer, ControlPlaneUnavailable, ServerAuthError
from flotilla.gateway.routing import RouteTable
from flotilla.gateway.signals import Sample

log = logging.getLogger("flotilla.gateway")

ROUTES_WAIT = 25.0
"""Seconds the routes long-poll is held by the server (it allows 30)."""


class ControlPlane:
    """The Flotilla server, as the gateway (an admin-scope token) sees it."""

    def __init__(self, server: str, token: str, gateway: str) -> None:
        self.gateway = gateway
        self.http = httpx.AsyncClient(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(10.0, read=ROUTES_WAIT + 15.0),
        )

    async def user_of(self, secret: str) -> str:
        """The user id a caller's token belongs to; raises ``Answer`` (401 with the server's
        code, or 503 when the server cannot be asked)."""
        try:
            response = await self.http.get(
                "/v1/users/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10.0
            )
        except httpx.HTTPError as error:
            raise Answer(
                ControlPlaneUnavailable(
                    f"cannot check the token: the server is unreachable ({error})"
                ),
                retry_after=5,
            ) from None
        if response.status_code == 200:
            return str(response.json()["id"])
        if response.status_code in (401, 403):
            detail = _error(response)
            refusal = ServerAuthError(
                detail.get("code", "UNAUTHENTICATED"), detail.get("message", "token refused")
            )
            raise Answer(refusal, status=response.status_code)
        raise Answer(
            ControlPlaneUnavailable(
                f"cannot check the token: the server answered {response.status_code}"
            ),
            retry_after=5,
        )

    async def routes(self, wait: float, known: str | None) -> dict[str, Any]:
        params: dict[str, str | float] = {"wait": wait}
        if known:
            params["known"] = known
        response = await self.http.get("/v1/gateway/routes", params=params)
        response.raise_for_status()
        routes: dict[str, Any] = response.json()
        return routes

    async def report(self, samples: list[Sample]) -> None:
        """Send samples; raises only when sending again later may help (server away, 5xx)."""
        response = await self.http.post(
            "/v1/traffic", json={"gateway": self.gateway, "samples": samples}
        )
        if response.status_code >= 500:
            response.raise_for_status()
        if response.status_code >= 400:  # would fail again: drop, say why
            log.error("the server refused traffic samples: %s", response.text[:500])

    async def close(self) -> None:
        await self.http.aclose()


def _error(response: httpx.Response) -> dict[str, str]:
    with contextlib.suppress(ValueError, KeyError, TypeError):
        detail = response.json()["error"]
        if isinstance(detail, dict):
            return {k: str(v) for k, v in detail.items() if k in ("code", "message")}
    return {}


class AuthCache:
    """Token → user id, checked through the server. Valid answers are trusted ``ttl`` seconds,
    refusals ``negative_ttl``; while the server cannot be reached, a token that was valid within
    ``stale_seconds`` still is (the data plane outlives a control-plane blip). Bounded: the
    oldest entries go first."""

    def __init__(
        self,
        control: ControlPlane,
        *,
        ttl: float = 10.0,
        negative_ttl: float = 1.0,
        stale_seconds: float = 300.0,
        max_entries: int = 10_000,
    ) -> None:
        self.control = control
        self.ttl = ttl
        self.negative_ttl = negative_ttl
        self.stale_seconds = stale_seconds
        self.max_entries = max_entries
        self.entries: dict[str, tuple[float, str | None, Answer | None]] = {}
        """secret → (valid until, user id, or the refusal)."""
        self._checking: dict[str, asyncio.Future[str]] = {}

    def cached(self, secret: str, now: float) -> str | None:
        """The user id if the cache knows it now; raises the cached refusal; None: ask."""
        entry = self.entries.get(secret)
        if entry is None or entry[0] <= now:
            return None
        if entry[2] is not None:
            raise entry[2]
        return entry[1]

    async def user_of(self, secret: str) -> str:
        """Ask the server; concurrent callers with the same token share one question."""
        pending = self._checking.get(secret)
        if pending is None:
            pending = asyncio.ensure_future(self._check(secret))
            self._checking[secret] = pending

            def done(future: asyncio.Future[str]) -> None:
                self._checking.pop(secret, None)
                if not future.cancelled():
                    future.exception()  # retrieved: its callers may all have left

            pending.add_done_callback(done)
        return await asyncio.shield(pending)

    async def _check(self, secret: str) -> str:
        try:
            user = await self.control.user_of(secret)
        except Answer as answer:
            if isinstance(answer.error, ServerAuthError):
                self._put(secret, time.monotonic() + self.negative_ttl, None, answer)
                raise
            entry = self.entries.get(secret)  # known good a while ago: the server is away
            if (
                entry is not None
                and entry[1] is not None
                and time.monotonic() < entry[0] - self.ttl + self.stale_seconds
            ):
                return entry[1]
            raise
        self._put(secret, time.monotonic() + self.ttl, user, None)
        return user

    def _put(self, secret: str, until: float, user: str | None, refusal: Answer | None) -> None:
        self.entries.pop(secret, None)
        while len(self.entries) >= self.max_entries:
            del self.entries[next(iter(self.entries))]
        self.entries[secret] = (until, user, refusal)


async def follow_routes(control: ControlPlane, table: RouteTable) -> None:
    """Keep ``table`` current: long-poll the server for changes, forever (cancel to stop).
    While the server is away the last routes stay in use."""
    backoff = 0.0
    while True:
        try:
            routes = await control.routes(ROUTES_WAIT if table.etag else 0.0, table.etag)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            backoff = min(max(backoff * 2, 0.25), 5.0)
            log.warning("cannot read routes (%s); again in %.2f s", error, backoff)
            await asyncio.sleep(backoff)
            continue
        backoff = 0.0
        if routes.get("etag") != table.etag or not table.loaded.is_set():
            table.apply(routes)
