"""A live Flotilla for SDK and CLI tests: the real server (uvicorn on a loopback port, SQLite, no
controllers) and a real gateway, served from a thread of their own so that blocking clients —
``flotilla.Client`` and the CLI under Typer's runner — can call them from the test.

One is started per test session; each test acts as a user of its own, so that what one test
creates is invisible to the others (another user's objects do not exist for you). What only
controllers and agents record — ready nodes, ready replicas, log lines — is written as they would
write it, and replicas are stand-ins that answer ``/predict`` like the runtime does.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import shutil
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import sqlalchemy as sa

from flotilla.api.app import create_app
from flotilla.domain.ids import new_id
from flotilla.gateway.app import Gateway, GatewayOptions
from flotilla.gateway.main import config as gateway_config
from flotilla.services import logs
from flotilla.services.bootstrap import Bootstrapped
from flotilla.services.context import Context
from flotilla.settings import Settings
from flotilla.store.db import Database
from flotilla.store.tables import (
    ClusterRow,
    DeploymentNodepoolRow,
    DeploymentRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
    UserRow,
)
from tests.gateway.conftest import StandIn, serving

T = TypeVar("T")
EXAMPLES = Path(__file__).resolve().parents[2] / "src" / "flotilla" / "examples"


@dataclass
class User:
    """A user of the live server, and the environment that makes the CLI act as them."""

    id: str
    token: str
    live: Live

    @property
    def env(self) -> dict[str, str]:
        return {
            "FLOTILLA_URL": self.live.url,
            "FLOTILLA_TOKEN": self.token,
            "FLOTILLA_GATEWAY_URL": self.live.gateway_url,
        }


class Live:
    def __init__(self, home: Path, database: Path) -> None:
        self.settings = Settings(
            home=home,
            database_url=f"sqlite+aiosqlite:///{database}",
            run_migrations=False,
            controllers=False,
            token_cache_seconds=0,
        )
        self.ctx = Context(db=Database(self.settings.sqlalchemy_url), settings=self.settings)
        self.url = ""
        self.gateway_url = ""
        self.admin_token = ""
        self.gateway: Gateway | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._started = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="live-flotilla", daemon=True)
        self.stand_ins: list[StandIn] = []

    # the server's thread
    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # reported to the test thread
            self._failed = error
            self._started.set()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        started: list[Bootstrapped] = []
        app = create_app(self.ctx, on_start=started.append)
        async with serving(app, timeout_graceful_shutdown=1) as url:
            self.url = url
            self.admin_token = started[0].admin_token or ""
            self.gateway = Gateway(
                GatewayOptions(
                    server=url,
                    token=self.admin_token,
                    name="gw-test",
                    hold_timeout=5.0,
                    report_interval=0.2,
                    grace_period=1.0,
                )
            )
            async with serving(None, config=gateway_config(self.gateway, "warning")) as gw:
                self.gateway_url = gw
                self._started.set()
                await self._stop.wait()
                for stand_in in self.stand_ins:
                    await stand_in.stop()

    def start(self) -> Live:
        self._thread.start()
        self._started.wait(30)
        if self._failed is not None:
            raise RuntimeError("the live server did not start") from self._failed
        return self

    def stop(self) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)

    def run(self, work: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        """Run ``work`` in the server's event loop (where its database and hints live)."""
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout)

    # users
    def admin(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.admin_token}"}, timeout=30
        )

    def new_user(self, name: str) -> User:
        with self.admin() as http:
            answer = http.post("/v1/users", json={"id": name})
            assert answer.status_code == 201, answer.text
        return User(id=name, token=answer.json()["token"]["secret"], live=self)

    # what controllers, agents and replicas would record
    def add_ready_node(self, owner: str, cluster: str, nodepool: str) -> str:
        async def add() -> str:
            now = self.ctx.now()
            node_id = new_id("node")
            async with self.ctx.db.write() as s:
                pool_pk = await s.scalar(
                    sa.select(NodepoolRow.pk)
                    .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
                    .join(UserRow, UserRow.pk == ClusterRow.owner_pk)
                    .where(
                        UserRow.id == owner, ClusterRow.id == cluster, NodepoolRow.id == nodepool
                    )
                )
                assert pool_pk is not None, f"{owner} has no nodepool {cluster}/{nodepool}"
                s.add(
                    NodeRow(
                        id=node_id,
                        nodepool_pk=pool_pk,
                        instance_type="local-small",
                        capacity_type="on_demand",
                        state="ready",
                        price_per_hour=0.0,
                        ready_at=now,
                        created_at=now,
                        modified_at=now,
                    )
                )
            self.ctx.hints.notify("nodes")
            return node_id

        return self.run(add())

    def add_ready_replica(self, owner: str, deployment: str, endpoint: str | None = None) -> str:
        async def add() -> str:
            now = self.ctx.now()
            replica_id = new_id("replica")
            async with self.ctx.db.write() as s:
                row = await s.scalar(
                    sa.select(DeploymentRow)
                    .join(UserRow, UserRow.pk == DeploymentRow.owner_pk)
                    .where(UserRow.id == owner, DeploymentRow.id == deployment)
                )
                assert row is not None, f"{owner} has no deployment {deployment}"
                version_pk = await s.scalar(
                    sa.select(sa.func.max(ModelVersionRow.pk)).where(
                        ModelVersionRow.model_pk == row.model_pk
                    )
                )
                nodepool_pk = await s.scalar(
                    sa.select(DeploymentNodepoolRow.nodepool_pk)
                    .where(DeploymentNodepoolRow.deployment_pk == row.pk)
                    .limit(1)
                )
                s.add(
                    ReplicaRow(
                        id=replica_id,
                        deployment_pk=row.pk,
                        model_version_pk=version_pk,
                        nodepool_pk=nodepool_pk,
                        state="ready",
                        endpoint=endpoint,
                        ready_at=now,
                        created_at=now,
                        modified_at=now,
                    )
                )
            self.ctx.hints.notify("deployments")
            return replica_id

        return self.run(add())

    def soon(self, action: Callable[[], object], delay: float = 0.3) -> threading.Thread:
        """Do ``action`` in a moment, from another thread, as a controller or agent would while
        a command waits; until what it acts on exists (a command may still be creating it)."""

        def attempt() -> None:
            time.sleep(delay)
            deadline = time.monotonic() + 15
            while True:
                try:
                    action()
                    return
                except AssertionError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)

        thread = threading.Thread(target=attempt, daemon=True)
        thread.start()
        return thread

    def set_replica_state(self, replica_id: str, state: str) -> None:
        async def change() -> None:
            async with self.ctx.db.write() as s:
                await s.execute(
                    sa.update(ReplicaRow).where(ReplicaRow.id == replica_id).values(state=state)
                )
            self.ctx.hints.notify("deployments")

        self.run(change())

    def add_stand_in(self, owner: str, deployment: str) -> StandIn:
        """A replica that answers predictions (echoing the inputs), routed by the gateway."""

        async def start() -> StandIn:
            return await StandIn().start()

        stand_in = self.run(start())
        self.stand_ins.append(stand_in)
        self.add_ready_replica(owner, deployment, stand_in.endpoint)
        self.wait_routed(owner, deployment)
        return stand_in

    def wait_routed(self, owner: str, deployment: str, seconds: float = 5.0) -> None:
        deadline = time.monotonic() + seconds
        while True:
            gateway = self.gateway
            found = gateway.table.get(owner, deployment) if gateway else None
            if found is not None and found.replicas:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the gateway routes no replica of {deployment}")
            time.sleep(0.02)

    def write_logs(self, replica: str, *lines: tuple[datetime, str]) -> None:
        """Log lines of a replica, as its agent ships them."""
        logs.append(
            self.settings,
            [logs.LogLine(replica, at.timestamp(), "stdout", text) for at, text in lines],
        )


def user_name(node_name: str, module: str) -> str:
    """A user id for a test, unique in the session and readable in failures."""
    base = re.sub(r"[^A-Za-z0-9]+", "-", f"{module}-{node_name}").strip("-")
    if len(base) <= 60:
        return base
    digest = hashlib.sha1(base.encode()).hexdigest()[:6]
    return f"{base[:53]}-{digest}"


@contextlib.contextmanager
def live_flotilla(folder: Path, template: Path) -> Iterator[Live]:
    database = folder / "flotilla.db"
    shutil.copy(template, database)
    live = Live(folder / "home", database).start()
    try:
        yield live
    finally:
        live.stop()


# Fixtures, imported by the conftest of tests/client and of tests/cli.
_SESSION: list[Live] = []


@pytest.fixture(scope="session")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Live]:
    """The session's live server and gateway: one, although the conftests of tests/cli and
    tests/client each declare this fixture (the first to run starts it and stops it)."""
    if _SESSION:
        yield _SESSION[0]
        return
    with live_flotilla(tmp_path_factory.mktemp("live"), sqlite_template) as running:
        _SESSION.append(running)
        yield running
        _SESSION.clear()


@pytest.fixture
def user(live: Live, request: pytest.FixtureRequest) -> User:
    """A user of the live server of this test's own."""
    return live.new_user(user_name(request.node.name, request.node.module.__name__.split(".")[-1]))


def model_folder(parent: Path, model_id: str) -> Path:
    """The echo example as a model of another id."""
    folder = parent / model_id
    shutil.copytree(EXAMPLES / "echo", folder, ignore=shutil.ignore_patterns("__pycache__"))
    spec = (folder / "model.yaml").read_text().replace("id: echo", f"id: {model_id}")
    (folder / "model.yaml").write_text(spec)
    return folder
