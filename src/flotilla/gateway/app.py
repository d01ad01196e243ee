"""The gateway's ASGI app: ``POST /v1/deployments/{id}/predict`` (and under the owner's
namespace), ``/healthz``, ``/readyz``, ``/metrics``.

Raw ASGI, no framework: the hot path is a path split, a cached token, a dict lookup of the
deployment, a least-outstanding pick and one exchange on a pooled keep-alive connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

import httpx

from flotilla import __version__
from flotilla.domain.errors import (
    DeploymentNotFound,
    ObjectDeleting,
    RouteNotFound,
)
from flotilla.gateway.control import AuthCache, ControlPlane, follow_routes
from flotilla.gateway.errors import (
    Answer,
    ComputeStopped,
    ControlPlaneUnavailable,
    DeploymentDisabled,
    NoReplicaReady,
    QueueFull,
    ReplicaTimeout,
    ReplicaUnreachable,
)
from flotilla.gateway.metrics import GatewayMetrics
from flotilla.gateway.requests import (
    CLIENT_GONE,
    ClientGone,
    Receive,
    Scope,
    Send,
    bearer_and_length,
    check_json,
    disconnected,
    predict_target,
    read_body,
    send_error,
    send_json,
    send_raw,
    too_large,
)
from flotilla.gateway.routing import Deployment, RouteTable
from flotilla.gateway.signals import TrafficReporter
from flotilla.gateway.upstream import BrokenAnswer, NotReached, TimedOut

log = logging.getLogger("flotilla.gateway")

DOWN_SECONDS = 1.0
"""How long a replica that refused a connection is passed over."""


@dataclass(frozen=True)
class GatewayOptions:
    server: str
    token: str
    name: str
    host: str = "127.0.0.1"
    port: int = 8701
    queue_size: int = 256
    """Requests held per deployment while it has no ready replica."""
    hold_timeout: float = 60.0
    max_body_bytes: int = 32 << 20
    retries: int = 2
    """Further attempts when a replica drops the connection before answering. (A refused
    connection moves on to another replica, or waits as if there were none.)"""
    replica_timeout: float = 300.0
    """Longest wait for a replica's answer to begin."""
    connect_timeout: float = 2.0
    report_interval: float = 1.0
    auth_ttl: float = 10.0
    auth_negative_ttl: float = 1.0
    grace_period: float = 30.0


class Gateway:
    """The ASGI app, with everything it holds: routes, token cache, traffic and metrics."""

    def __init__(self, options: GatewayOptions) -> None:
        self.options = options
        self.control = ControlPlane(options.server, options.token, options.name)
        self.reporter = TrafficReporter(self.control.report, options.report_interval)
        self.table = RouteTable(
            self.reporter,
            replica_timeout=options.replica_timeout,
            connect_timeout=options.connect_timeout,
        )
        self.auth = AuthCache(
            self.control, ttl=options.auth_ttl, negative_ttl=options.auth_negative_ttl
        )
        self.metrics = GatewayMetrics(self.table)
        self._tasks: list[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._refreshed: dict[tuple[str, str], float] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.endswith("/predict"):
                await self.predict(scope, receive, send)
            elif path == "/healthz":
                await send_json(send, 200, {"status": "ok", "version": __version__})
            elif path == "/readyz":
                ready = self.table.loaded.is_set()
                await send_json(
                    send, 200 if ready else 503, {"status": "ready" if ready else "starting"}
                )
            elif path == "/metrics":
                body = self.metrics.exposition()
                headers = [(b"content-type", b"text/plain; version=0.0.4; charset=utf-8")]
                await send_raw(send, 200, headers, body)
            else:
                await send_error(
                    send, Answer(RouteNotFound("no such route; POST /v1/deployments/{id}/predict"))
                )
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    # the request path
    async def predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.monotonic()
        label = ""
        try:
            owner, deployment_id = predict_target(scope)
            secret, length = bearer_and_length(scope)
            user = self.auth.cached(secret, started) or await self.auth.user_of(secret)
            if owner is not None and owner not in ("me", user):
                raise Answer(DeploymentNotFound(f"no deployment '{deployment_id}'"))
            deployment = self.table.get(user, deployment_id) or await self._late(
                user, deployment_id
            )
            label = deployment.label
            if length > self.options.max_body_bytes:
                raise too_large(self.options.max_body_bytes)
            body = await read_body(receive, self.options.max_body_bytes)
            check_json(body)
            _check_serving(deployment)
        except Answer as answer:
            await send_error(send, answer)
            self.metrics.answered(label, answer.status, time.monotonic() - started)
            return
        except ClientGone:
            return
        traffic = deployment.traffic
        traffic.arrive(started)
        status = 500
        try:
            status = await self._serve(deployment, body, receive, send, started)
        except Answer as answer:
            status = answer.status
            await send_error(send, answer)
        except ClientGone:
            status = CLIENT_GONE
        finally:
            now = time.monotonic()
            traffic.depart(now, (now - started) * 1000.0, status >= 500)
            self.metrics.answered(label, status, now - started)

    async def _serve(
        self, deployment: Deployment, body: bytes, receive: Receive, send: Send, started: float
    ) -> int:
        failures = 0
        while True:
            replica = deployment.pick()
            if replica is None:
                await self._hold(deployment, receive, started)
                continue
            replica.in_flight += 1
            try:
                return await replica.forward(body, send, replica.answer_headers)
            except NotReached as error:
                # refused: pass the replica over for a moment (all refusing: wait as if none
                # were ready); dropped before any answer: try again, a bounded number of times
                self.metrics.retried(deployment.label)
                if error.refused:
                    replica.mark_down(DOWN_SECONDS)
                    continue
                failures += 1
                if failures > self.options.retries:
                    raise Answer(
                        ReplicaUnreachable(
                            f"no replica of '{deployment.id}' could be reached: {error}"
                        ),
                        retry_after=1,
                    ) from None
            except TimedOut:
                raise Answer(
                    ReplicaTimeout(
                        f"the replica did not answer within {self.options.replica_timeout:g} s"
                    )
                ) from None
            except BrokenAnswer as error:
                if error.started:  # part of the answer is out: all we can do is cut it short
                    log.warning("replica %s failed mid-answer: %s", replica.id, error)
                    return 502
                raise Answer(ReplicaUnreachable(str(error))) from None
            finally:
                replica.in_flight -= 1

    async def _hold(self, deployment: Deployment, receive: Receive, started: float) -> None:
        """Wait until the deployment has a replica to try (or the hold timeout): the request
        counts as held, and the first held one is reported to the server at once. Replicas
        that all refused connections count as none until they may be tried again."""
        traffic = deployment.traffic
        if traffic.held >= self.options.queue_size:
            raise Answer(
                QueueFull(
                    f"{traffic.held} requests already wait for a replica of '{deployment.id}'"
                ),
                retry_after=5,
            )
        traffic.held += 1
        if traffic.held == 1:
            self.reporter.report_soon()
        gone = asyncio.ensure_future(disconnected(receive))
        try:
            while True:
                _check_serving(deployment)
                if self.table.by_pk.get(deployment.pk) is not deployment:
                    raise Answer(DeploymentNotFound(f"deployment '{deployment.id}' was deleted"))
                now = time.monotonic()
                replicas = deployment.replicas
                if any(r.down_until <= now for r in replicas):
                    return
                retry_at = min((r.down_until for r in replicas), default=None)
                left = started + self.options.hold_timeout - now
                if left <= 0:
                    raise Answer(
                        NoReplicaReady(
                            f"no replica of '{deployment.id}' was ready within "
                            f"{self.options.hold_timeout:g} s; it is scaling up, try again"
                        ),
                        retry_after=10,
                    )
                if retry_at is not None:
                    left = min(left, retry_at - now)
                changed = asyncio.ensure_future(deployment.changed.wait())
                try:
                    await asyncio.wait(
                        (changed, gone), timeout=left, return_when=asyncio.FIRST_COMPLETED
                    )
                finally:
                    changed.cancel()
                if gone.done():
                    raise ClientGone()
        finally:
            traffic.held -= 1
            gone.cancel()

    async def _late(self, user: str, deployment_id: str) -> Deployment:
        """The deployment when routes are not loaded yet (gateway just started), or 404."""
        if not self.table.loaded.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.table.loaded.wait(), self.options.hold_timeout)
            if not self.table.loaded.is_set():
                raise Answer(
                    ControlPlaneUnavailable("no routes from the server yet"), retry_after=5
                )
        found = self.table.get(user, deployment_id)
        if found is None and self._may_refresh(user, deployment_id):
            # Created a moment ago, before the routes long-poll brought it: ask once, now.
            with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                self.table.apply(await self.control.routes(0.0, None))
            found = self.table.get(user, deployment_id)
        if found is None:
            raise Answer(DeploymentNotFound(f"no deployment '{deployment_id}'"))
        return found

    def _may_refresh(self, user: str, deployment_id: str) -> bool:
        """At most one extra routes read per unknown deployment a second (typos stay cheap)."""
        now = time.monotonic()
        key = (user, deployment_id)
        if now - self._refreshed.get(key, -1.0) < 1.0:
            return False
        if len(self._refreshed) > 10_000:
            self._refreshed.clear()
        self._refreshed[key] = now
        return True

    # start and stop
    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(follow_routes(self.control, self.table), name="routes"),
            asyncio.create_task(self.reporter.run(self._stop), name="traffic"),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.table.loaded.wait(), 5.0)
        if not self.table.loaded.is_set():
            log.warning("no routes from %s yet; requests wait for them", self.options.server)

    async def stop(self) -> None:
        self._stop.set()
        self.reporter.report_soon()
        routes, traffic = self._tasks or (None, None)
        if routes is not None:
            routes.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await routes
        if traffic is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(traffic, 5.0)
        for replica in self.table.replicas.values():
            replica.retire()
        await self.control.close()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.start()
                except Exception as error:
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.stop()
                await send({"type": "lifespan.shutdown.complete"})
                return


def _check_serving(deployment: Deployment) -> None:
    """Raises the answer for a deployment that will not serve: disabled, deleting, stopped."""
    if deployment.compute_stopped:
        raise Answer(ComputeStopped(deployment.status_reason or "the deployment's compute stopped"))
    if deployment.status == "disabled":
        raise Answer(
            DeploymentDisabled(f"deployment '{deployment.id}' is disabled; enable it first")
        )
    if deployment.status == "deleting":
        raise Answer(ObjectDeleting(f"deployment '{deployment.id}' is being deleted"))
