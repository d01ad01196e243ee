"""One replica's process: start it, watch its output, probe readiness, restart it when it
crashes (with back-off), drain it on request (SIGTERM: no new requests, in-flight ones finish)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from flotilla.domain.states import ReplicaState

MAX_BACKOFF = 60.0
PORT_TAKEN = 4
"""The runtime's exit code when it cannot listen on its port."""

READY_POLL = 0.05


@dataclass(frozen=True)
class ReplicaSpec:
    replica_id: str
    deployment_id: str
    digest: str
    entrypoint: str


@dataclass
class Report:
    replica_id: str
    state: ReplicaState
    endpoint: str | None = None
    reason: str | None = None
    exit_code: int | None = None
    log_tail: str | None = None
    restarts: int = 0

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "replica_id": self.replica_id,
            "state": self.state.value,
            "restarts": self.restarts,
        }
        for name in ("endpoint", "reason", "exit_code", "log_tail"):
            value = getattr(self, name)
            if value is not None:
                body[name] = value
        return body


def free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class ReplicaProcess:
    def __init__(
        self,
        spec: ReplicaSpec,
        *,
        prepare: Callable[[ReplicaSpec], Awaitable[tuple[Path, str]]],
        report: Callable[[Report], None],
        log: Callable[[str, str, str], None],
        host: str,
        advertise: str,
    ) -> None:
        self.spec = spec
        self.prepare = prepare
        self.report = report
        self.log = log
        self.host = host
        self.advertise = advertise
        self.process: asyncio.subprocess.Process | None = None
        self.stopping = False
        self._stopped = asyncio.Event()
        self.restarts = 0
        self.tail: deque[str] = deque(maxlen=30)
        self.task: asyncio.Task[None] | None = None
        self.port: int | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._supervise(), name=f"replica {self.spec.replica_id}")

    async def _supervise(self) -> None:
        prepared = await self._prepare()
        if prepared is None:
            self.report(Report(self.spec.replica_id, ReplicaState.STOPPED, reason="stopped"))
            return
        package, python = prepared
        while not self.stopping:
            exit_code = await self._run_once(package, python)
            if self.stopping:
                break
            if exit_code == PORT_TAKEN:
                continue  # another process took the port between choosing and binding it
            self.restarts += 1
            tail = "\n".join(self.tail)
            self.report(
                Report(
                    self.spec.replica_id,
                    ReplicaState.STARTING,
                    reason=f"restarting after exit code {exit_code} (restart {self.restarts})",
                    exit_code=exit_code,
                    log_tail=tail[-4000:],
                    restarts=self.restarts,
                )
            )
            await self._sleep(min(2 ** (self.restarts - 1), MAX_BACKOFF))
        self.report(
            Report(
                self.spec.replica_id, ReplicaState.STOPPED, reason="stopped", restarts=self.restarts
            )
        )

    async def _prepare(self) -> tuple[Path, str] | None:
        """The package and interpreter to run, retried with back-off while fetching or building
        fails (a bad requirements file, the server unreachable): the replica stays the same, as
        a Kubernetes pod in image-pull back-off does, and each failure is reported with its
        message. None once told to stop."""
        failures = 0
        while not self.stopping:
            try:
                prepared = await self.prepare(self.spec)
            except Exception as error:
                failures += 1
                self.restarts += 1  # reported: the server records each new failure once
                delay = min(2 ** (failures - 1), MAX_BACKOFF)
                message = str(error) or type(error).__name__
                self.report(
                    Report(
                        self.spec.replica_id,
                        ReplicaState.STARTING,
                        reason=f"could not prepare: {message[:500]}; retrying in {delay:.0f}s",
                        log_tail=message[-4000:],
                        restarts=self.restarts,
                    )
                )
                await self._sleep(delay)
                continue
            self.restarts = 0  # crash back-off starts afresh once the replica can run
            return prepared
        return None

    async def _sleep(self, seconds: float) -> None:
        """Back off, unless told to stop meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopped.wait(), timeout=seconds)

    async def _run_once(self, package: Path, python: str) -> int:
        self.port = free_port(self.host)
        self.process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            "flotilla.runtime",
            "--package",
            str(package),
            "--entrypoint",
            self.spec.entrypoint,
            "--host",
            self.host,
            "--port",
            str(self.port),
            cwd=str(package),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # The replica stays in the agent's process group: killing the node's group (the
            # local provider's terminate) takes every replica with it.
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.report(Report(self.spec.replica_id, ReplicaState.STARTING, restarts=self.restarts))
        readers = [
            asyncio.create_task(self._read(self.process.stdout, "stdout")),
            asyncio.create_task(self._read(self.process.stderr, "stderr")),
        ]
        probe = asyncio.create_task(self._probe())
        code = await self.process.wait()
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
        await asyncio.gather(*readers, return_exceptions=True)
        return code

    async def _read(self, stream: asyncio.StreamReader | None, name: str) -> None:
        if stream is None:
            return
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip("\n")
            self.tail.append(text)
            self.log(self.spec.replica_id, name, text)

    async def _probe(self) -> None:
        url = f"http://{self.host}:{self.port}/ready"
        async with httpx.AsyncClient(timeout=2.0) as http:
            while True:
                try:
                    if (await http.get(url)).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(READY_POLL)
        self.report(
            Report(
                self.spec.replica_id,
                ReplicaState.READY,
                endpoint=f"http://{self.advertise}:{self.port}",
                restarts=self.restarts,
            )
        )

    def stop(self) -> None:
        """Drain: the runtime stops accepting, finishes what it has, and exits."""
        self.stopping = True
        self._stopped.set()
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self.stopping = True
        self._stopped.set()
        self._signal(signal.SIGKILL)

    def _signal(self, sig: int) -> None:
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(sig)

    @property
    def alive(self) -> bool:
        return self.task is not None and not self.task.done()
