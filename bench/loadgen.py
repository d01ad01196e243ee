"""A lean HTTP/1.1 load generator that runs in worker processes, apart from the server.

Why not httpx: on the 2-core bench machine an ``httpx.AsyncClient`` spent about 2.2 ms of CPU
per request, so a client process could not offer more than ~450 requests/s and would have
measured itself, not the server. This client speaks just enough HTTP/1.1 over asyncio streams
(keep-alive, ``Content-Length`` or chunked bodies) and costs ~0.15-0.25 ms of CPU per request.
It is pure Python, so ``make bench`` needs nothing beyond ``make setup``.

A ``Job`` is picklable: the parent hands it to a ``ProcessPoolExecutor`` worker, which runs it
on its own event loop and answers a ``JobResult``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

Call = tuple[str, bytes | None]
"""A request path and its JSON body (None for a GET)."""

MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Job:
    """``connections`` keep-alive connections send ``method`` requests to ``base_url``.

    With ``duration`` each connection picks calls at random until the deadline; without, the
    connections share ``calls`` and send each one exactly once. Work starts at ``start_at``
    (a ``time.monotonic()`` value, the same clock in every process on Linux) so that several
    workers begin together.
    """

    base_url: str
    token: str
    method: str
    calls: Sequence[Call]
    connections: int
    expect_status: int
    start_at: float
    duration: float | None = None
    seed: int = 0


@dataclass
class JobResult:
    ok: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    cpu_seconds: float = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects if the server closes it."""

    def __init__(self, host: str, port: int, token: str) -> None:
        self.host, self.port = host, port
        self.head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n".encode()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None) -> tuple[int, bytes]:
        if self.writer is None or self.reader is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        lines = [f"{method} {path} HTTP/1.1\r\n".encode(), self.head]
        if body is not None:
            lines.append(
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n".encode()
            )
        lines.append(b"\r\n")
        if body is not None:
            lines.append(body)
        self.writer.write(b"".join(lines))
        status, headers = await self._read_head(self.reader)
        payload = await self._read_body(self.reader, headers)
        if headers.get(b"connection", b"").lower() == b"close":
            await self.close()
        return status, payload

    @staticmethod
    async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[bytes, bytes]]:
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = raw[:-4].split(b"\r\n")
        headers: dict[bytes, bytes] = {}
        for line in header_lines:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        return int(status_line.split(b" ", 2)[1]), headers

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: dict[bytes, bytes]) -> bytes:
        if b"content-length" in headers:
            return await reader.readexactly(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            chunks = []
            while True:
                size = int((await reader.readuntil(b"\r\n"))[:-2].split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        return b""

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def _run(job: Job) -> JobResult:
    url = urlsplit(job.base_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    result = JobResult()
    rng = random.Random(job.seed)
    shared: Iterator[Call] = iter(job.calls)
    deadline = job.start_at + job.duration if job.duration is not None else None

    def next_call() -> Call | None:
        if deadline is not None:
            return rng.choice(job.calls) if time.monotonic() < deadline else None
        return next(shared, None)

    async def one_connection() -> None:
        connection = Connection(host, port, job.token)
        try:
            while (call := next_call()) is not None:
                path, body = call
                sent = time.perf_counter()
                try:
                    status, payload = await connection.request(job.method, path, body)
                except (OSError, asyncio.IncompleteReadError, ValueError) as error:
                    status, payload = 0, repr(error).encode()
                    await connection.close()
                result.latencies_ms.append((time.perf_counter() - sent) * 1000)
                if status == job.expect_status:
                    result.ok += 1
                else:
                    result.errors += 1
                    if len(result.error_samples) < MAX_ERROR_SAMPLES:
                        text = payload[:300].decode(errors="replace")
                        result.error_samples.append(f"{job.method} {path} -> {status}: {text}")
        finally:
            await connection.close()

    await asyncio.sleep(max(0.0, job.start_at - time.monotonic()))
    cpu_before = time.process_time()
    result.started = time.monotonic()
    await asyncio.gather(*(one_connection() for _ in range(job.connections)))
    result.ended = time.monotonic()
    result.cpu_seconds = time.process_time() - cpu_before
    return result


def run_job(job: Job) -> JobResult:
    """Entry point in a worker process."""
    try:
        import uvloop  # installed with uvicorn[standard]; a faster loop means a cheaper client
    except ImportError:
        return asyncio.run(_run(job))
    return uvloop.run(_run(job))


def pin_to(cpus: frozenset[int]) -> None:
    """Worker initializer: keep load generators off the server's core."""
    if cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cpus)
