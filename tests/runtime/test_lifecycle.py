"""A replica's life: loading, ready, a failed load, draining on SIGTERM, exit codes."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.runtime.replicas import EXAMPLES, RawConnection, Replica

ReplicaFactory = Callable[..., Replica]
PackageFactory = Callable[[str], Path]

GATED = """
    import time
    from pathlib import Path
    from flotilla.runtime import Model

    class M(Model):
        def load(self):
            while not (self.path / "go").exists():
                time.sleep(0.01)

        def predict(self, inputs):
            return inputs
"""

SLOW = """
    import time
    from flotilla.runtime import Model

    class M(Model):
        def predict(self, inputs):
            time.sleep(inputs)
            return "done"
"""


def test_ready_only_after_load_returned(replica: ReplicaFactory, package: PackageFactory) -> None:
    folder = package(GATED)
    server = replica(folder).listening()
    with httpx.Client(base_url=server.url) as client:
        health = client.get("/healthz")
        assert (health.status_code, health.json()["state"]) == (200, "loading")
        not_ready = client.get("/ready")
        assert not_ready.status_code == 503
        assert not_ready.json()["error"]["code"] == "NOT_READY"
        early = client.post("/predict", json={"inputs": 1})
        assert early.status_code == 503
        assert early.headers["retry-after"] == "1"
        assert server.stdout == []

        (folder / "go").touch()
        server.ready()
        assert client.get("/ready").status_code == 200
        assert client.get("/healthz").json()["state"] == "ready"
        assert client.post("/predict", json={"inputs": 1}).json() == {"outputs": 1}
    assert server.stdout == [f"ready on {server.url}"]


@pytest.mark.parametrize(
    ("source", "entrypoint", "reason"),
    [
        (
            "from flotilla.runtime import Model\n"
            "class M(Model):\n"
            "    def load(self):\n"
            "        raise RuntimeError('weights not found in /models/x')\n",
            "model.py:M",
            "RuntimeError: weights not found in /models/x",
        ),
        ("import numpy_that_is_not_installed\n", "model.py:M", "ModuleNotFoundError"),
        ("def broken(:\n", "model.py:M", "SyntaxError"),
        ("class Other:\n    pass\n", "model.py:M", "defines no 'M'"),
        ("class M:\n    pass\n", "model.py:M", "has no predict(self, inputs)"),
        ("x = 1\n", "missing.py:M", "entrypoint file missing.py is not in the package"),
        (
            "class M:\n    def __init__(self, size):\n        pass\n"
            "    def predict(self, inputs):\n        return inputs\n",
            "model.py:M",
            "TypeError",
        ),
    ],
)
def test_a_failed_load_exits_3_with_the_reason_on_stderr(
    replica: ReplicaFactory, package: PackageFactory, source: str, entrypoint: str, reason: str
) -> None:
    server = replica(package(source), entrypoint)
    assert server.exit_code() == 3
    server.wait_for(lambda: any("model failed to load" in line for line in server.stderr))
    last = [line for line in server.stderr if "model failed to load" in line][-1]
    assert reason in last
    assert server.stdout == []


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    server = replica(package(SLOW)).ready()
    idle = RawConnection(server.port)  # an idle keep-alive connection: closed at once
    answer: list[httpx.Response] = []
    request = threading.Thread(
        target=lambda: answer.append(httpx.post(f"{server.url}/predict", json={"inputs": 0.6}))
    )
    request.start()
    deadline = time.monotonic() + 2
    while httpx.get(f"{server.url}/healthz").json()["inflight"] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)

    server.signal(signal.SIGTERM)
    assert idle.closed_by_server()
    time.sleep(0.1)
    with pytest.raises(httpx.ConnectError):  # no new connections
        httpx.get(f"{server.url}/healthz")
    request.join(5)
    assert answer[0].status_code == 200
    assert answer[0].json() == {"outputs": "done"}
    assert answer[0].headers["connection"] == "close"
    assert server.exit_code() == 0
    idle.close()


def test_sigterm_gives_up_after_the_grace_period(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    server = replica(package(SLOW), "model.py:M", "--grace-period", "0.3").ready()
    with RawConnection(server.port) as connection:
        connection.send(b'POST /predict HTTP/1.1\r\nContent-Length: 14\r\n\r\n{"inputs": 30}')
        deadline = time.monotonic() + 2
        while httpx.get(f"{server.url}/healthz").json()["inflight"] < 1:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        started = time.monotonic()
        server.signal(signal.SIGTERM)
        assert server.exit_code() == 0
        assert time.monotonic() - started < 1.5
    assert "grace period" in server.log


def test_sigterm_while_loading_exits_0_at_once(
    replica: ReplicaFactory, package: PackageFactory
) -> None:
    server = replica(package(GATED)).listening()
    server.signal(signal.SIGTERM)
    assert server.exit_code(timeout=2) == 0
    assert server.stdout == []


def test_sigint_drains_like_sigterm(replica: ReplicaFactory) -> None:
    server = replica(EXAMPLES / "echo", "model.py:Echo").ready()
    server.signal(signal.SIGINT)
    assert server.exit_code() == 0


def test_a_taken_port_exits_4(replica: ReplicaFactory) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = replica(EXAMPLES / "echo", "model.py:Echo", "--port", str(port))
        assert server.exit_code() == 4
    assert "cannot listen" in server.log


@pytest.mark.parametrize(
    "args",
    [
        ("--entrypoint", "model.py"),
        ("--entrypoint", "../model.py:Echo"),
        ("--threads", "0"),
        ("--package", "/nonexistent/folder"),
    ],
)
def test_a_bad_command_line_exits_2(replica: ReplicaFactory, args: tuple[str, ...]) -> None:
    server = replica(EXAMPLES / "echo", "model.py:Echo", *args)  # later options win
    assert server.exit_code() == 2
    assert "usage:" in server.log
