"""Local nodes: each instance is a ``flotilla agent`` process in its own process group, sized by
its instance type (a slice of this machine), recorded in a state file so that a restarted server
finds it again by its tags.

Terminating kills the process group (the agent and its replicas). ``interrupt`` sends a spot
interruption notice to a local node, for demos and tests: the node is reclaimed when it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flotilla.catalog import Catalog
from flotilla.domain.states import CapacityType
from flotilla.domain.time import Clock
from flotilla.providers.base import (
    TAG_NODE,
    Instance,
    InstanceState,
    LaunchSpec,
    NoCapacity,
    ProviderEvent,
    ProviderEventKind,
)

STOP_GRACE = 10.0


@dataclass
class _Node:
    instance_id: str
    pid: int
    spec: LaunchSpec
    launched_at: datetime
    process: subprocess.Popen[bytes] | None = None
    deadline: datetime | None = None

    def view(self) -> Instance:
        return Instance(
            instance_id=self.instance_id,
            instance_type=self.spec.instance_type,
            capacity_type=self.spec.capacity_type,
            state=InstanceState.RUNNING,
            tags=dict(self.spec.tags),
            launched_at=self.launched_at,
        )


class LocalProvider:
    name = "local"

    def __init__(self, home: Path, clock: Clock, catalog: Catalog, *, max_nodes: int = 16) -> None:
        self.folder = home / "nodes"
        self.clock = clock
        self.catalog = catalog
        self.max_nodes = max_nodes
        self._nodes: dict[str, _Node] = {}
        self._events: list[ProviderEvent] = []
        self._stopped: set[str] = set()
        self._adopt()

    # state files --------------------------------------------------------------------------

    def _state_file(self, instance_id: str) -> Path:
        return self.folder / f"{instance_id}.json"

    def _adopt(self) -> None:
        """Nodes a previous server process started and that still run."""
        if not self.folder.exists():
            return
        for path in self.folder.glob("*.json"):
            data = json.loads(path.read_text())
            spec = LaunchSpec(
                node_id=data["node_id"],
                region=data["region"],
                instance_type=data["instance_type"],
                capacity_type=CapacityType(data["capacity_type"]),
                tags=data["tags"],
            )
            node = _Node(
                data["instance_id"], data["pid"], spec, datetime.fromisoformat(data["launched_at"])
            )
            if _running(node.pid, spec.node_id):
                self._nodes[node.instance_id] = node
            else:
                path.unlink(missing_ok=True)

    def _save(self, node: _Node) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {
            "instance_id": node.instance_id,
            "pid": node.pid,
            "node_id": node.spec.node_id,
            "region": node.spec.region,
            "instance_type": node.spec.instance_type,
            "capacity_type": node.spec.capacity_type.value,
            "tags": node.spec.tags,
            "launched_at": node.launched_at.isoformat(),
        }
        self._state_file(node.instance_id).write_text(json.dumps(data))

    # the Provider protocol -------------------------------------------------------------------

    async def launch(self, spec: LaunchSpec) -> Instance:
        self._reap()
        for node in self._nodes.values():
            if node.spec.tags.get(TAG_NODE) == spec.node_id:
                return node.view()
        if len(self._nodes) >= self.max_nodes:
            raise NoCapacity(f"this machine runs {self.max_nodes} local nodes already")
        it = self.catalog.instance_type("local", spec.region, spec.instance_type)
        if it is None:
            raise NoCapacity(f"no local instance type '{spec.instance_type}'")
        home = self.folder / spec.node_id
        home.mkdir(parents=True, exist_ok=True)
        command = [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "agent",
            "--server",
            spec.user_data["server_url"],
            "--node-id",
            spec.user_data["node_id"],
            "--home",
            str(home),
            "--cpu",
            str(it.allocatable.cpu),
            "--memory",
            str(it.allocatable.memory),
        ]
        process = await asyncio.to_thread(
            _spawn, command, home / "agent.log", spec.user_data["node_token"]
        )
        node = _Node(f"local-{process.pid}", process.pid, spec, self.clock.now(), process)
        self._nodes[node.instance_id] = node
        self._save(node)
        return node.view()

    async def terminate(self, instance_id: str) -> None:
        node = self._nodes.pop(instance_id, None)
        self._state_file(instance_id).unlink(missing_ok=True)
        if node is None:
            return
        self._stopped.add(instance_id)
        await asyncio.to_thread(_stop_group, node)

    async def list_instances(self, tags: dict[str, str]) -> list[Instance]:
        self._reap()
        return [
            n.view()
            for n in self._nodes.values()
            if all(n.spec.tags.get(k) == v for k, v in tags.items())
        ]

    async def events(self) -> list[ProviderEvent]:
        self._reap()
        now = self.clock.now()
        for node in list(self._nodes.values()):
            if node.deadline is not None and node.deadline <= now:
                await self.terminate(node.instance_id)
                self._events.append(
                    ProviderEvent(
                        ProviderEventKind.TERMINATED,
                        node.instance_id,
                        now,
                        message="spot capacity reclaimed",
                    )
                )
        found, self._events = self._events, []
        return found

    # local specifics -------------------------------------------------------------------------

    def interrupt(self, instance_id: str, notice_seconds: float = 30.0) -> None:
        """A spot interruption notice: the node is reclaimed after ``notice_seconds``."""
        node = self._nodes[instance_id]
        now = self.clock.now()
        node.deadline = now + timedelta(seconds=notice_seconds)
        self._events.append(
            ProviderEvent(ProviderEventKind.INTERRUPTION_NOTICE, instance_id, now, node.deadline)
        )

    def _reap(self) -> None:
        """Nodes whose process died on its own become TERMINATED events."""
        for node in list(self._nodes.values()):
            alive = (
                node.process.poll() is None
                if node.process is not None
                else _running(node.pid, node.spec.node_id)
            )
            if not alive:
                del self._nodes[node.instance_id]
                self._state_file(node.instance_id).unlink(missing_ok=True)
                self._events.append(
                    ProviderEvent(
                        ProviderEventKind.TERMINATED,
                        node.instance_id,
                        self.clock.now(),
                        message="the agent process exited",
                    )
                )

    async def close(self) -> None:
        """Stop every local node (``flotilla up`` leaves no process behind)."""
        for instance_id in list(self._nodes):
            await self.terminate(instance_id)


def _spawn(command: list[str], log_path: Path, node_token: str) -> subprocess.Popen[bytes]:
    """The agent in a session of its own, so that killing its group takes its replicas too."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "FLOTILLA_NODE_TOKEN": node_token},
        )


def _running(pid: int, node_id: str) -> bool:
    """The process lives and is the agent of ``node_id`` (pids are reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    if status.split(")")[-1].split()[0] == "Z":
        return False
    return node_id.encode() in cmdline


def _stop_group(node: _Node) -> None:
    """SIGTERM the agent's process group, then SIGKILL what is left after a grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGTERM)
    if node.process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=STOP_GRACE)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(node.pid, signal.SIGKILL)
    if node.process is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            node.process.wait(timeout=5)
