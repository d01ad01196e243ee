"""Small factories for test data, through the API as a user would make it (and, for what only
controllers record, such as running nodes and replicas, through the store)."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import httpx
import sqlalchemy as sa

from flotilla.domain.ids import new_id
from flotilla.services.context import Context
from flotilla.store.tables import (
    ClusterRow,
    DeploymentRow,
    ModelVersionRow,
    NodepoolRow,
    NodeRow,
    ReplicaRow,
)

ECHO_MODEL_PY = b"""
from flotilla.runtime import Model


class Echo(Model):
    def load(self):
        pass

    def predict(self, inputs):
        return inputs
"""


def model_yaml(
    model_id: str = "echo", cpu: str = "250m", memory: str = "128Mi", accelerators: int = 0
) -> bytes:
    return (
        f"id: {model_id}\ndescription: echoes its inputs\nentrypoint: model.py:Echo\n"
        f"resources:\n  cpu: {cpu}\n  memory: {memory}\n  accelerators: {accelerators}\n"
    ).encode()


def package(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def echo_package(model_id: str = "echo", **resources: Any) -> bytes:
    return package({"model.yaml": model_yaml(model_id, **resources), "model.py": ECHO_MODEL_PY})


async def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return response.json() if response.content else {}


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of ``response``, after checking its HTTP status and stable code."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["error"]
    assert body["code"] == code, body
    return body


async def create_cluster(
    client: httpx.AsyncClient, cluster_id: str = "gpu-east", **fields: Any
) -> dict[str, Any]:
    body = {"id": cluster_id, "cloud_provider": "aws", "region": "us-east-1", **fields}
    return await ok(await client.post("/v1/compute_clusters", json=body), 201)


async def create_nodepool(
    client: httpx.AsyncClient,
    cluster_id: str = "gpu-east",
    nodepool_id: str = "a10-pool",
    **fields: Any,
) -> dict[str, Any]:
    body = {"id": nodepool_id, "instance_types": ["g5.xlarge"], "max_instances": 4, **fields}
    return await ok(
        await client.post(f"/v1/compute_clusters/{cluster_id}/nodepools", json=body), 201
    )


async def upload_model(
    client: httpx.AsyncClient, model_id: str = "echo", **resources: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/models/{model_id}/versions",
        content=echo_package(model_id, **resources),
        headers={"Content-Type": "application/gzip"},
    )
    assert response.status_code in (200, 201), response.text
    return response.json()


async def create_deployment(
    client: httpx.AsyncClient, deployment_id: str = "echo-prod", model: str = "echo", **fields: Any
) -> dict[str, Any]:
    body = {"id": deployment_id, "model": model, **fields}
    return await ok(await client.post("/v1/deployments", json=body), 201)


async def create_user(
    client: httpx.AsyncClient, user_id: str = "bob", **fields: Any
) -> httpx.AsyncClient:
    """A new user; returns a client acting as them (same app)."""
    created = await ok(await client.post("/v1/users", json={"id": user_id, **fields}), 201)
    return httpx.AsyncClient(
        transport=client._transport,
        base_url=str(client.base_url),
        headers={"Authorization": f"Bearer {created['token']['secret']}"},
    )


async def create_token(
    client: httpx.AsyncClient, token_id: str = "ci", **fields: Any
) -> dict[str, Any]:
    """A new token of the client's user; the answer holds its secret."""
    return await ok(await client.post("/v1/tokens", json={"id": token_id, **fields}), 201)


def as_token(client: httpx.AsyncClient, secret: str) -> httpx.AsyncClient:
    """A client of the same app acting with ``secret``."""
    return httpx.AsyncClient(
        transport=client._transport,
        base_url=str(client.base_url),
        headers={"Authorization": f"Bearer {secret}"},
    )


async def add_running_node(ctx: Context, cluster_id: str, nodepool_id: str) -> None:
    """A ready node in a nodepool, as a controller would record it (there is no API for that)."""
    now = ctx.now()
    async with ctx.db.write() as session:
        pool_pk = await session.scalar(
            sa.select(NodepoolRow.pk)
            .join(ClusterRow, ClusterRow.pk == NodepoolRow.cluster_pk)
            .where(ClusterRow.id == cluster_id, NodepoolRow.id == nodepool_id)
        )
        assert pool_pk is not None, f"no nodepool {cluster_id}/{nodepool_id}"
        session.add(
            NodeRow(
                id=new_id("node"),
                nodepool_pk=pool_pk,
                instance_type="g5.xlarge",
                capacity_type="on_demand",
                state="ready",
                price_per_hour=1.0,
                created_at=now,
                modified_at=now,
            )
        )


async def add_running_replica(ctx: Context, deployment_id: str) -> None:
    """A ready replica of a deployment, as a controller would record it."""
    now = ctx.now()
    async with ctx.db.write() as session:
        deployment = await session.scalar(
            sa.select(DeploymentRow).where(DeploymentRow.id == deployment_id)
        )
        assert deployment is not None, f"no deployment {deployment_id}"
        version_pk = await session.scalar(
            sa.select(sa.func.max(ModelVersionRow.pk)).where(
                ModelVersionRow.model_pk == deployment.model_pk
            )
        )
        session.add(
            ReplicaRow(
                id=new_id("replica"),
                deployment_pk=deployment.pk,
                model_version_pk=version_pk,
                state="ready",
                created_at=now,
                modified_at=now,
            )
        )
