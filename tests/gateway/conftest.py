"""A real Flotilla server (uvicorn, SQLite, no controllers), stand-in replicas and a real
gateway, all on loopback sockets in the test's event loop.

Replicas are recorded in the store as a controller would (there is no API for it); the stand-ins
answer ``POST /predict`` like the runtime does, and count what they served.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from flotilla.api.app import create_app
from flotilla.domain.ids import new_id
from flotilla.gateway.app import Gateway, GatewayOptions
from flotilla.gateway.main import config as gateway_config
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Context
from flotilla.settings import Settings
from flotilla.store.db import Database
from flotilla.store.tables import (
    DeploymentNodepoolRow,
    DeploymentRow,
    ModelVersionRow,
    ReplicaRow,
    TrafficSampleRow,
)
from tests.factories import create_deployment, upload_model


def listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    sock.setblocking(False)
    return sock


def closed_port() -> int:
    """A port nothing listens on (connections to it are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextlib.asynccontextmanager
async def serving(app: Any, **options: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on a free loopback port; yields its URL."""
    sock = listening_socket()
    cfg = options.pop("config", None) or uvicorn.Config(
        app, log_level="warning", lifespan="on", ws="none", **options
    )
    server = uvicorn.Server(cfg)
    server.capture_signals = contextlib.nullcontext  # type: ignore[assignment,method-assign]
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            await task
            raise RuntimeError("server did not start")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@dataclass
class StandIn:
    """A replica stand-in: echoes ``inputs`` after ``delay`` seconds."""

    delay: float = 0.0
    served: int = 0
    in_flight: int = 0
    most_in_flight: int = 0
    release: asyncio.Event = field(default_factory=asyncio.Event)
    hold: bool = False
    """Answer only once ``release`` is set."""
    drop: int = 0
    """Close this many connections after reading a request, answering nothing."""
    dropped: int = 0
    port: int = 0
    server: asyncio.Server | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> StandIn:
        self.server = await asyncio.start_server(self._connection, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.server.wait_closed(), 1)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if self.dropped < self.drop:
                    self.dropped += 1
                    return
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                try:
                    if self.delay:
                        await asyncio.sleep(self.delay)
                    if self.hold:
                        await self.release.wait()
                finally:
                    self.in_flight -= 1
                self.served += 1
                answer = json.dumps({"outputs": json.loads(body)["inputs"]}).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer)
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def insert_replica(
    ctx: Context, deployment_id: str, endpoint: str | None, state: str = "ready"
) -> str:
    """A replica of the deployment (on its first nodepool), as the agent's report records it;
    wakes whoever waits for route changes."""
    now = ctx.now()
    replica_id = new_id("replica")
    async with ctx.db.write() as s:
        deployment = await s.scalar(
            sa.select(DeploymentRow).where(DeploymentRow.id == deployment_id)
        )
        assert deployment is not None
        version_pk = await s.scalar(
            sa.select(sa.func.max(ModelVersionRow.pk)).where(
                ModelVersionRow.model_pk == deployment.model_pk
            )
        )
        nodepool_pk = await s.scalar(
            sa.select(DeploymentNodepoolRow.nodepool_pk)
            .where(DeploymentNodepoolRow.deployment_pk == deployment.pk)
            .order_by(DeploymentNodepoolRow.position)
            .limit(1)
        )
        s.add(
            ReplicaRow(
                id=replica_id,
                deployment_pk=deployment.pk,
                model_version_pk=version_pk,
                nodepool_pk=nodepool_pk,
                state=state,
                endpoint=endpoint,
                created_at=now,
                modified_at=now,
            )
        )
    ctx.hints.notify("deployments")
    return replica_id


@dataclass
class Stack:
    ctx: Context
    api_url: str
    admin_token: str
    api: httpx.AsyncClient
    """The admin's client of the real server."""
    replicas: list[StandIn] = field(default_factory=list)

    async def stand_in(self, **fields: Any) -> StandIn:
        replica = await StandIn(**fields).start()
        self.replicas.append(replica)
        return replica

    async def add_replica(self, deployment_id: str, endpoint: str, state: str = "ready") -> str:
        """Record a replica of the deployment, as the agent's report would; wake the routes."""
        return await insert_replica(self.ctx, deployment_id, endpoint, state)

    async def set_replica_state(self, replica_id: str, state: str) -> None:
        async with self.ctx.db.write() as s:
            await s.execute(
                sa.update(ReplicaRow).where(ReplicaRow.id == replica_id).values(state=state)
            )
        self.ctx.hints.notify("deployments")

    async def samples(self, deployment_id: str) -> list[TrafficSampleRow]:
        async with self.ctx.db.read() as s:
            rows = await s.scalars(
                sa.select(TrafficSampleRow)
                .join(DeploymentRow, DeploymentRow.pk == TrafficSampleRow.deployment_pk)
                .where(DeploymentRow.id == deployment_id)
                .order_by(TrafficSampleRow.pk)
            )
            return list(rows.all())

    async def deploy(self, deployment_id: str = "echo", **fields: Any) -> None:
        await create_deployment(self.api, deployment_id, **fields)
        self.ctx.hints.notify("deployments")


@pytest.fixture
async def stack(tmp_path: Path, sqlite_url: str) -> AsyncIterator[Stack]:
    settings = Settings(
        home=tmp_path / "home", database_url=sqlite_url, run_migrations=False, controllers=False
    )
    ctx = Context(db=Database(settings.sqlalchemy_url), settings=settings)
    done = await bootstrap(ctx)
    assert done.admin_token is not None
    async with (
        serving(create_app(ctx), timeout_graceful_shutdown=2) as url,
        httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {done.admin_token}"}
        ) as api,
    ):
        await upload_model(api, "echo")
        world = Stack(ctx, url, done.admin_token, api)
        yield world
        for replica in world.replicas:
            await replica.stop()


GatewayFactory = Callable[
    ..., contextlib.AbstractAsyncContextManager[tuple[Gateway, httpx.AsyncClient]]
]


@pytest.fixture
def gateway(stack: Stack) -> GatewayFactory:
    """``async with gateway(**options) as (gw, client)``: a gateway reading routes from the
    stack's server, and the admin's client of it."""

    @contextlib.asynccontextmanager
    async def start(**options: Any) -> AsyncIterator[tuple[Gateway, httpx.AsyncClient]]:
        values: dict[str, Any] = {"hold_timeout": 5.0, "report_interval": 0.2}
        values.update(options)
        gw = Gateway(
            GatewayOptions(server=stack.api_url, token=stack.admin_token, name="gw-test", **values)
        )
        headers = {"Authorization": f"Bearer {stack.admin_token}"}
        async with (
            serving(None, config=gateway_config(gw, "warning")) as url,
            httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client,
        ):
            yield gw, client

    return start


async def eventually(predicate: Callable[[], Any], seconds: float = 3.0) -> None:
    """Until ``predicate()`` (or its awaited value) is true."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def routes_settled(gw: Gateway, deployment_id: str, replicas: int) -> None:
    """Until the gateway routes ``deployment_id`` to exactly ``replicas`` replicas."""

    def settled() -> bool:
        found = gw.table.get("admin", deployment_id)
        return found is not None and len(found.replicas) == replicas

    await eventually(settled)
