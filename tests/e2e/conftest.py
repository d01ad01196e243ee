"""Real processes: a ``flotilla server`` on SQLite with the local provider, its agents and
replicas. Every test ends by checking that nothing it started is left running."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_under(home: Path) -> list[int]:
    """Processes whose command line mentions ``home`` (the server, agents, replicas)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if str(home).encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def package(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def wait_for(check: Callable[[], Any], timeout: float = 60.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached within {timeout}s")
        time.sleep(every)


@dataclass
class Server:
    home: Path
    url: str
    token: str
    process: subprocess.Popen[bytes]
    gateway: str = ""

    def predict(self, deployment: str, inputs: object, timeout: float = 90) -> httpx.Response:
        return httpx.post(
            f"{self.gateway}/v1/deployments/{deployment}/predict",
            json={"inputs": inputs},
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=timeout,
        )

    @property
    def http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30
        )

    def upload(self, model_id: str, folder: Path) -> dict[str, Any]:
        with self.http as http:
            response = http.post(
                f"/v1/models/{model_id}/versions",
                content=package(folder),
                headers={"Content-Type": "application/gzip"},
            )
        assert response.status_code in (200, 201), response.text
        result: dict[str, Any] = response.json()
        return result

    def get(self, path: str, **params: Any) -> Any:
        with self.http as http:
            response = http.get(path, params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        with self.http as http:
            response = http.post(path, json=body, params=params)
        assert response.status_code < 300, response.text
        return response.json()

    def replicas(self, deployment: str, state: str | None = None) -> list[dict[str, Any]]:
        items = self.get(f"/v1/deployments/{deployment}/replicas", per_page=1000)["items"]
        return [r for r in items if state is None or r["state"] == state]

    def events(self, reason: str) -> list[dict[str, Any]]:
        return list(self.get("/v1/events", reason=reason)["items"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    home = tmp_path / "home"
    port = free_port()
    env = {
        **os.environ,
        "FLOTILLA_HOME": str(home),
        "FLOTILLA_PORT": str(port),
        "FLOTILLA_RECONCILE_INTERVAL_SECONDS": "0.5",
        "FLOTILLA_AGENT_HEARTBEAT_SECONDS": "1",
        "FLOTILLA_NODE_LOST_SECONDS": "6",
        "FLOTILLA_NODE_EMPTY_SECONDS": "5",
        "FLOTILLA_STOP_NODES_ON_EXIT": "true",
        "FLOTILLA_SHARED_NODEPOOL_MAX_INSTANCES": "3",
    }
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "server",
            "--home",
            str(home),
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return (
                httpx.get(f"{url}/healthz", timeout=1).status_code == 200
                and (home / "credentials").exists()
            )
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=30)
        token = tomllib.loads((home / "credentials").read_text())["token"]
        yield Server(home=home, url=url, token=token, process=process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        left = (
            wait_for(lambda: not processes_under(home) or None, timeout=20)
            if processes_under(home)
            else None
        )
        del left
        assert processes_under(home) == [], "processes left behind"


@pytest.fixture
def gateway(server: Server, tmp_path: Path) -> Iterator[Server]:
    """The server, plus a ``flotilla gateway`` in front of its replicas."""
    port = free_port()
    log = (tmp_path / "gateway.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "gateway",
            "--port",
            str(port),
            "--server",
            server.url,
            "--name",
            "gw-e2e",
            "--log-level",
            "warning",
        ],
        env={**os.environ, "FLOTILLA_TOKEN": server.token},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server.gateway = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{server.gateway}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, timeout=30)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
