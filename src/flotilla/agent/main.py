"""The agent's main loop: register, then heartbeat (long-polling for the desired replicas),
start and drain replicas to match, ship their logs; on SIGTERM stop them all and exit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from pathlib import Path
from typing import Any

from flotilla.agent.client import ServerClient
from flotilla.agent.environments import Environments
from flotilla.agent.packages import PackageCache, requirements_of
from flotilla.agent.supervisor import ReplicaProcess, ReplicaSpec, Report

log = logging.getLogger("flotilla.agent")

LONG_POLL = 10.0
"""Longest a heartbeat waits for news; the server's heartbeat interval when shorter."""
MAX_LOG_BUFFER = 20_000
STOP_GRACE = 30.0


class Agent:
    def __init__(
        self,
        client: ServerClient,
        home: Path,
        *,
        capacity: dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        advertise: str | None = None,
    ) -> None:
        self.client = client
        self.home = home
        self.capacity = capacity
        self.host = host
        self.advertise = advertise or host
        self.packages = PackageCache(home, client)
        self.environments = Environments(home)
        self.replicas: dict[str, ReplicaProcess] = {}
        self.pending: dict[str, Report] = {}
        self.news = asyncio.Event()
        self.logs: deque[dict[str, Any]] = deque(maxlen=MAX_LOG_BUFFER)
        self.etag: str | None = None
        self.stop = asyncio.Event()
        self.long_poll = LONG_POLL

    # what replicas tell the agent --------------------------------------------------------

    def _report(self, report: Report) -> None:
        previous = self.pending.get(report.replica_id)
        if previous is not None and previous.exit_code is not None and report.exit_code is None:
            report.exit_code, report.log_tail = (
                previous.exit_code,
                previous.log_tail,
            )  # keep the crash
        self.pending[report.replica_id] = report
        self.news.set()

    def _log(self, replica_id: str, stream: str, text: str) -> None:
        self.logs.append(
            {"replica_id": replica_id, "time": time.time(), "stream": stream, "text": text}
        )

    async def _prepare(self, spec: ReplicaSpec) -> tuple[Path, str]:
        package = await self.packages.ensure(spec.digest)
        python = await self.environments.python_for(package, requirements_of(package))
        return package, python

    # matching the desired state ----------------------------------------------------------

    def sync(self, desired: list[dict[str, Any]]) -> None:
        wanted = {d["replica_id"]: d for d in desired}
        for replica_id, d in wanted.items():
            process = self.replicas.get(replica_id)
            if process is None and not d["drain"]:
                spec = ReplicaSpec(
                    replica_id, d["deployment_id"], d["model_version_digest"], d["entrypoint"]
                )
                process = ReplicaProcess(
                    spec,
                    prepare=self._prepare,
                    report=self._report,
                    log=self._log,
                    host=self.host,
                    advertise=self.advertise,
                )
                self.replicas[replica_id] = process
                process.start()
            elif process is not None and d["drain"] and not process.stopping:
                process.stop()
        for replica_id, process in list(self.replicas.items()):
            if replica_id not in wanted and not process.stopping:
                process.stop()
            if not process.alive and replica_id not in wanted:
                del self.replicas[replica_id]

    # the loops ---------------------------------------------------------------------------

    async def _heartbeats(self) -> None:
        while not self.stop.is_set():
            reports = [r.to_json() for r in self.pending.values()]
            self.pending.clear()
            self.news.clear()
            wait = 0.0 if reports else self.long_poll
            call = asyncio.create_task(self.client.heartbeat(reports, self.etag, wait))
            interrupt = asyncio.create_task(self.news.wait()) if not reports else None
            stopping = asyncio.create_task(self.stop.wait())
            waiters = {call, stopping} | ({interrupt} if interrupt else set())
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            for task in (interrupt, stopping):
                if task is not None:
                    task.cancel()
            if not call.done():  # news arrived during a long poll that carried no reports
                call.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await call
                continue
            try:
                answer = call.result()
            except Exception as error:
                for r in reports:  # send them again
                    self.pending.setdefault(str(r["replica_id"]), _report_from(r))

                log.warning("heartbeat failed: %s; retrying", error)
                await asyncio.sleep(1.0)
                continue
            self.etag = answer["etag"]
            if answer.get("shutdown"):
                log.warning("the server wrote this node off; stopping")
                self.stop.set()
                return
            self.sync(answer["replicas"])

    async def _ship_logs(self) -> None:
        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=1.0)
            await self.flush_logs()

    async def flush_logs(self) -> None:
        if not self.logs:
            return
        batch = [self.logs.popleft() for _ in range(min(len(self.logs), 5000))]
        try:
            await self.client.ship_logs(batch)
        except Exception as error:
            log.warning("could not ship %d log lines: %s", len(batch), error)

    async def run(self) -> None:
        while True:
            try:
                registered = await self.client.register(self.capacity)
                self.long_poll = min(
                    LONG_POLL, float(registered.get("heartbeat_seconds", LONG_POLL))
                )
                break
            except Exception as error:
                if self.stop.is_set():
                    return
                log.warning("could not register (%s); retrying", error)
                await asyncio.sleep(1.0)
        log.info("registered as node %s", self.client.node_id)
        tasks = [asyncio.create_task(self._heartbeats()), asyncio.create_task(self._ship_logs())]
        await self.stop.wait()
        await self.shutdown()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def shutdown(self) -> None:
        """Stop every replica (draining, then killing what does not exit in time) and report."""
        for process in self.replicas.values():
            process.stop()
        running = [p.task for p in self.replicas.values() if p.task is not None]
        if running:
            _, late = await asyncio.wait(running, timeout=STOP_GRACE)
            for process in self.replicas.values():
                if process.task in late:
                    process.kill()
            await asyncio.gather(*running, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.client.heartbeat([r.to_json() for r in self.pending.values()], self.etag, 0)
        await self.flush_logs()
        await self.client.close()


def _report_from(body: dict[str, Any]) -> Report:
    from flotilla.domain.states import ReplicaState

    return Report(
        replica_id=body["replica_id"],
        state=ReplicaState(body["state"]),
        endpoint=body.get("endpoint"),
        reason=body.get("reason"),
        exit_code=body.get("exit_code"),
        log_tail=body.get("log_tail"),
        restarts=int(body.get("restarts", 0)),
    )


def machine_capacity() -> dict[str, Any]:
    """What this machine offers replicas (for machines that join): CPUs and memory, less overhead."""
    from flotilla.catalog import allocatable

    cpus = (os.cpu_count() or 1) * 1000
    memory = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = int(line.split()[1]) * 1024
    cpu, mem = allocatable(cpus, memory)
    return {"cpu": cpu, "memory": mem, "accelerators": 0, "accelerator_type": None}
