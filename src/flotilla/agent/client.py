"""The agent's side of /v1/agent: outbound HTTP only, authenticated with the node token."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx


class ServerClient:
    def __init__(
        self, server_url: str, node_id: str, node_token: str, *, timeout: float = 40.0
    ) -> None:
        self.node_id = node_id
        self.http = httpx.AsyncClient(
            base_url=server_url.rstrip("/"),
            headers={"Authorization": f"Bearer {node_token}"},
            timeout=timeout,
        )

    def _path(self, suffix: str) -> str:
        return f"/v1/agent/nodes/{self.node_id}/{suffix}"

    async def register(self, capacity: dict[str, Any] | None) -> dict[str, Any]:
        response = await self.http.post(
            self._path("register"), json={"capacity": capacity, "agent_version": "1"}
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def heartbeat(
        self, reports: list[dict[str, Any]], known: str | None, wait: float
    ) -> dict[str, Any]:
        response = await self.http.post(
            self._path("heartbeat"),
            params={"wait": wait},
            json={"replicas": reports, "known": known},
        )
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    async def download(self, digest: str, target: Path) -> None:
        async with self.http.stream("GET", self._path(f"packages/{digest}")) as response:
            response.raise_for_status()
            with target.open("wb") as f:
                async for chunk in response.aiter_bytes():
                    f.write(chunk)

    async def ship_logs(self, lines: list[dict[str, Any]]) -> None:
        response = await self.http.post(self._path("logs"), json={"lines": lines})
        response.raise_for_status()

    async def close(self) -> None:
        await self.http.aclose()


async def join(
    server_url: str, pat: str, cluster: str, nodepool: str, capacity: dict[str, Any], hostname: str
) -> dict[str, Any]:
    """Join a self-managed nodepool with a Personal Access Token; returns node id and token."""
    async with httpx.AsyncClient(base_url=server_url.rstrip("/"), timeout=30) as http:
        response = await http.post(
            "/v1/agent/join",
            headers={"Authorization": f"Bearer {pat}"},
            json={
                "compute_cluster": cluster,
                "nodepool": nodepool,
                "capacity": capacity,
                "hostname": hostname,
            },
        )
        if response.status_code >= 400:
            try:
                message = response.json()["error"]["message"]
            except (ValueError, KeyError):
                message = response.text
            raise RuntimeError(f"could not join: {message}")
        result: dict[str, Any] = response.json()
        return result
