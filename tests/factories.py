"""Small factories for test data, through the API as a user would make it."""

from __future__ import annotations

import io
import tarfile
from typing import Any

import httpx

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
