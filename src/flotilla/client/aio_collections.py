"""The collections of ``flotilla.AsyncClient``: one per kind of object, each call awaited."""

# ruff: noqa: ASYNC109 - ``timeout=`` is the SDK's word in both clients, as it is in httpx's.

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from flotilla.client import calls, packaging, waiting
from flotilla.client.follow import LogCursor
from flotilla.client.http import AsyncHTTP, Call
from flotilla.client.types import (
    CloudProvider,
    ComputeCluster,
    DeleteAccepted,
    Deployment,
    InstanceType,
    LogLine,
    Model,
    ModelVersion,
    Node,
    Nodepool,
    Page,
    Replica,
    Token,
    TokenWithSecret,
    User,
    UserCreated,
)
from flotilla.errors import NotFound, WaitTimedOut

T = TypeVar("T")


async def every_item(
    http: AsyncHTTP, page_call: Callable[[int], Call[Page[T]]]
) -> AsyncIterator[T]:
    """Every item, page after page, each page fetched as the iteration gets there."""
    number: int | None = 1
    while number is not None:
        found = await http.run(page_call(number))
        for item in found.items:
            yield item
        number = found.next_page


class Collection:
    def __init__(self, http: AsyncHTTP) -> None:
        self._http = http

    async def _run(self, call: Call[T]) -> T:
        return await self._http.run(call)

    def _all(self, page_call: Callable[[int], Call[Page[T]]]) -> AsyncIterator[T]:
        return every_item(self._http, page_call)

    async def _wait(
        self,
        get: Callable[[], Awaitable[T]],
        ready: Callable[[T], bool],
        describe: Callable[[T], str],
        what: str,
        timeout: float,
        on_update: Callable[[T], None] | None,
    ) -> T:
        deadline = time.monotonic() + timeout
        for delay in waiting.polls():
            current = await get()
            if on_update is not None:
                on_update(current)
            if ready(current):
                return current
            if time.monotonic() + delay > deadline:
                raise WaitTimedOut(f"{what} is not ready after {timeout:g} s: {describe(current)}")
            await self._http.sleep(delay)
        raise AssertionError("unreachable")

    async def _wait_gone(
        self, get: Callable[[], Awaitable[object]], what: str, timeout: float
    ) -> None:
        deadline = time.monotonic() + timeout
        for delay in waiting.polls():
            try:
                await get()
            except NotFound:
                return
            if time.monotonic() + delay > deadline:
                raise WaitTimedOut(f"{what} is still being deleted after {timeout:g} s")
            await self._http.sleep(delay)


class ComputeClusters(Collection):
    """``client.compute_clusters`` (also ``client.clusters``)."""

    async def create(self, id: str, **fields: Any) -> ComputeCluster:
        """Fields as in ``ComputeClusterSpec``: ``cloud_provider``, ``region``,
        ``cluster_type``, ``description``, ``token_id``, ``managed_by``."""
        return await self._run(calls.create_cluster({"id": id, **fields}))

    async def get(self, cluster: str) -> ComputeCluster:
        return await self._run(calls.get_cluster(cluster))

    def list(self, *, per_page: int | None = None) -> AsyncIterator[ComputeCluster]:
        """Yours and the shared one, by id, across pages."""
        return self._all(lambda n: calls.list_clusters(n, per_page))

    async def update(self, cluster: str, **changes: Any) -> ComputeCluster:
        """A JSON merge patch: ``description``, ``token_id``."""
        return await self._run(calls.update_cluster(cluster, changes))

    async def delete(self, cluster: str, *, cascade: bool = False) -> DeleteAccepted:
        """``status`` ``deleting`` until what runs there has stopped, or ``deleted``."""
        return await self._run(calls.delete_cluster(cluster, cascade))

    async def wait_until_deleted(
        self, cluster: str, *, timeout: float = waiting.DEFAULT_TIMEOUT
    ) -> None:
        await self._wait_gone(lambda: self.get(cluster), f"compute cluster '{cluster}'", timeout)


class Nodepools(Collection):
    """``client.nodepools``: nodepools are named by their cluster and their id."""

    async def create(self, cluster: str, id: str, **fields: Any) -> Nodepool:
        """Fields as in ``NodepoolSpec``: ``instance_types``, ``min_instances``,
        ``max_instances``, ``capacity_types``, ``description``."""
        return await self._run(calls.create_nodepool(cluster, {"id": id, **fields}))

    async def get(self, cluster: str, nodepool: str) -> Nodepool:
        return await self._run(calls.get_nodepool(cluster, nodepool))

    def list(self, cluster: str, *, per_page: int | None = None) -> AsyncIterator[Nodepool]:
        return self._all(lambda n: calls.list_nodepools(cluster, n, per_page))

    async def update(self, cluster: str, nodepool: str, **changes: Any) -> Nodepool:
        return await self._run(calls.update_nodepool(cluster, nodepool, changes))

    async def delete(self, cluster: str, nodepool: str, *, cascade: bool = False) -> DeleteAccepted:
        return await self._run(calls.delete_nodepool(cluster, nodepool, cascade))

    async def wait_until_ready(
        self,
        cluster: str,
        nodepool: str,
        *,
        timeout: float = waiting.DEFAULT_TIMEOUT,
        on_update: Callable[[Nodepool], None] | None = None,
    ) -> Nodepool:
        """Until its status is ``ready`` (``min_instances`` nodes up); raises ``WaitTimedOut``."""
        return await self._wait(
            lambda: self.get(cluster, nodepool),
            waiting.nodepool_ready,
            waiting.describe_nodepool,
            f"nodepool '{cluster}/{nodepool}'",
            timeout,
            on_update,
        )

    async def wait_until_deleted(
        self, cluster: str, nodepool: str, *, timeout: float = waiting.DEFAULT_TIMEOUT
    ) -> None:
        what = f"nodepool '{cluster}/{nodepool}'"
        await self._wait_gone(lambda: self.get(cluster, nodepool), what, timeout)

    def nodes(
        self, cluster: str, nodepool: str, *, state: str | None = None, per_page: int | None = None
    ) -> AsyncIterator[Node]:
        """Newest first, terminated ones included."""
        return self._all(lambda n: calls.list_nodes(cluster, nodepool, state, n, per_page))

    async def node(self, cluster: str, nodepool: str, node: str) -> Node:
        return await self._run(calls.get_node(cluster, nodepool, node))


class Deployments(Collection):
    """``client.deployments``."""

    async def create(self, id: str, **fields: Any) -> Deployment:
        """Fields as in ``DeploymentSpec``: ``model``, ``model_version``, ``nodepools``
        (``[{"compute_cluster": …, "nodepool": …, "priority": …}]``), ``autoscale_config``,
        ``scheduling_choice``, ``description``."""
        return await self._run(calls.create_deployment({"id": id, **fields}))

    async def get(self, deployment: str) -> Deployment:
        return await self._run(calls.get_deployment(deployment))

    def list(
        self,
        *,
        compute_cluster: str | None = None,
        nodepool: str | None = None,
        model: str | None = None,
        per_page: int | None = None,
    ) -> AsyncIterator[Deployment]:
        return self._all(
            lambda n: calls.list_deployments(n, per_page, compute_cluster, nodepool, model)
        )

    async def update(self, deployment: str, **changes: Any) -> Deployment:
        """A JSON merge patch: ``autoscale_config`` merges key by key."""
        return await self._run(calls.update_deployment(deployment, changes))

    async def delete(self, deployment: str) -> DeleteAccepted:
        return await self._run(calls.delete_deployment(deployment))

    async def wait_until_ready(
        self,
        deployment: str,
        *,
        timeout: float = waiting.DEFAULT_TIMEOUT,
        on_update: Callable[[Deployment], None] | None = None,
    ) -> Deployment:
        """Until at least one replica is ready; raises ``WaitTimedOut``."""
        return await self._wait(
            lambda: self.get(deployment),
            waiting.deployment_ready,
            waiting.describe_deployment,
            f"deployment '{deployment}'",
            timeout,
            on_update,
        )

    async def wait_until_deleted(
        self, deployment: str, *, timeout: float = waiting.DEFAULT_TIMEOUT
    ) -> None:
        await self._wait_gone(lambda: self.get(deployment), f"deployment '{deployment}'", timeout)

    def replicas(self, deployment: str, *, per_page: int | None = None) -> AsyncIterator[Replica]:
        return self._all(lambda n: calls.list_replicas(deployment, n, per_page))

    async def predict(self, deployment: str, inputs: Any, *, timeout: float | None = None) -> Any:
        """The model's outputs for ``inputs``, through the gateway. A deployment at zero
        replicas answers once one has started. Never retried (see ``calls.predict``)."""
        answer = await self._run(calls.predict(deployment, inputs, timeout))
        return answer["outputs"]

    async def logs(
        self,
        deployment: str,
        *,
        follow: bool = False,
        since: datetime | None = None,
        tail: int | None = None,
    ) -> AsyncIterator[LogLine]:
        """Lines its replicas wrote, oldest first (the newest ``tail`` of them). With ``follow``,
        then new lines as they come, until the deployment is gone or the loop stops."""
        if not follow:
            for stored in (await self._run(calls.read_logs(deployment, since, tail))).lines:
                yield stored
            return
        cursor = LogCursor(deployment, since, tail)
        while True:
            try:
                response = await self._http.send(cursor.call(), stream=True)
            except NotFound:
                if cursor.connected:
                    return
                raise
            cursor.opened()
            try:
                async for text in response.aiter_lines():
                    line = cursor.read(text)
                    if line is not None:
                        yield line
            except httpx.TransportError:
                pass  # the connection broke: come back for what follows the last line
            finally:
                await response.aclose()
            await self._http.sleep(cursor.reconnect_delay)


class Models(Collection):
    """``client.models`` and their versions."""

    async def create(self, id: str, **fields: Any) -> Model:
        """An empty model; ``upload`` also creates the model when it does not exist."""
        return await self._run(calls.create_model({"id": id, **fields}))

    async def get(self, model: str) -> Model:
        return await self._run(calls.get_model(model))

    def list(self, *, per_page: int | None = None) -> AsyncIterator[Model]:
        return self._all(lambda n: calls.list_models(n, per_page))

    async def update(self, model: str, **changes: Any) -> Model:
        return await self._run(calls.update_model(model, changes))

    async def delete(self, model: str) -> None:
        await self._run(calls.delete_model(model))

    async def upload(
        self, path: str | Path, *, model: str | None = None, description: str | None = None
    ) -> ModelVersion:
        """Upload a model folder (or a .tar.gz of one) as a new version; the model id comes
        from its ``model.yaml`` unless given. The same files again give the same version."""
        path = Path(path)
        model = model or packaging.model_id(path if path.is_dir() else path.parent)
        archive = packaging.read(path)
        return await self._run(calls.upload_version(model, archive, description))

    def versions(self, model: str, *, per_page: int | None = None) -> AsyncIterator[ModelVersion]:
        """Newest first."""
        return self._all(lambda n: calls.list_versions(model, n, per_page))

    async def version(self, model: str, version: str = "latest") -> ModelVersion:
        return await self._run(calls.get_version(model, version))


class InstanceTypes(Collection):
    """``client.instance_types``: the catalog's machine shapes, cheapest first."""

    def list(
        self,
        *,
        cloud_provider: str | None = None,
        region: str | None = None,
        gpu: bool | None = None,
        min_gpus: int | None = None,
        min_gpu_memory: str | None = None,
        accelerator_type: str | None = None,
        max_price: float | None = None,
        capacity_type: str | None = None,
        per_page: int | None = None,
    ) -> AsyncIterator[InstanceType]:
        filters = {
            "cloud_provider": cloud_provider,
            "region": region,
            "gpu": gpu,
            "min_gpus": min_gpus,
            "min_gpu_memory": min_gpu_memory,
            "accelerator_type": accelerator_type,
            "max_price": max_price,
            "capacity_type": capacity_type,
        }
        return self._all(lambda n: calls.list_instance_types(filters, n, per_page))

    async def get(self, cloud_provider: str, region: str, instance_type: str) -> InstanceType:
        return await self._run(calls.get_instance_type(cloud_provider, region, instance_type))


class CloudProviders(Collection):
    """``client.cloud_providers`` and their regions."""

    def list(self, *, per_page: int | None = None) -> AsyncIterator[CloudProvider]:
        return self._all(lambda n: calls.list_cloud_providers(n, per_page))

    async def get(self, cloud_provider: str) -> CloudProvider:
        return await self._run(calls.get_cloud_provider(cloud_provider))


class Tokens(Collection):
    """``client.tokens``: your Personal Access Tokens."""

    async def create(self, id: str | None = None, **fields: Any) -> TokenWithSecret:
        """Fields: ``description``, ``scopes`` (default read and write), ``expires_in_days``.
        The answer's ``secret`` is shown only now."""
        return await self._run(calls.create_token({"id": id, **fields}))

    async def get(self, token: str) -> Token:
        return await self._run(calls.get_token(token))

    def list(self, *, per_page: int | None = None) -> AsyncIterator[Token]:
        return self._all(lambda n: calls.list_tokens(n, per_page))

    async def update(self, token: str, **changes: Any) -> Token:
        return await self._run(calls.update_token(token, changes))

    async def revoke(self, token: str) -> Token:
        """It stops working at once, and so do the clusters that act with it."""
        return await self._run(calls.revoke_token(token))

    async def delete(self, token: str) -> None:
        await self._run(calls.delete_token(token))


class Users(Collection):
    """``client.users`` (admin), and ``me()`` for anyone."""

    async def create(self, id: str, **fields: Any) -> UserCreated:
        """Fields: ``name``, ``email``, ``is_admin``. The answer holds the user's first token."""
        return await self._run(calls.create_user({"id": id, **fields}))

    async def get(self, user: str) -> User:
        return await self._run(calls.get_user(user))

    async def me(self) -> User:
        """Whom the client's token belongs to."""
        return await self.get("me")

    def list(self, *, per_page: int | None = None) -> AsyncIterator[User]:
        return self._all(lambda n: calls.list_users(n, per_page))

    async def update(self, user: str, **changes: Any) -> User:
        return await self._run(calls.update_user(user, changes))

    async def delete(self, user: str) -> None:
        await self._run(calls.delete_user(user))
