"""The gateway's client to replicas: HTTP/1.1 over pooled keep-alive connections.

Why not httpx: on this 2-core machine an ``httpx.AsyncClient`` costs a few hundred microseconds
of CPU per request, a budget the whole gateway must stay under (DESIGN §9: ≤ 1 ms added at p50,
≥ 3,000 requests/s). This client writes one request head per call and parses answers with
httptools (C, the parser uvicorn uses), from an ``asyncio.Protocol`` — one future per answer in
the common case. ``docs/benchmarks.md`` has the figures of both.

A request that got no byte of an answer (refused connection, reset, a pooled connection the
replica had closed) raises ``NotReached`` and may be retried elsewhere; one that failed after the
answer began raises ``BrokenAnswer`` and may not.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"date",
        b"server",
    }
)
"""Headers of a replica's answer that are not passed on (the gateway sets its own date)."""
MAX_IDLE_CONNECTIONS = 128
"""Idle keep-alive connections kept per replica; more are closed when released."""
SMALL_BODY = 64 * 1024
"""Bodies below this are written in one piece with the request head."""
HIGH_WATER = 1 << 20
"""Answer bytes buffered before reading from the replica pauses (slow callers)."""

Send = Callable[[dict[str, Any]], Awaitable[None]]


class UpstreamError(Exception):
    """A replica could not answer."""


class NotReached(UpstreamError):
    """No byte of an answer came back; the request may be sent again (elsewhere)."""

    def __init__(self, message: str, *, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused
        """The connection itself failed: the replica is likely down."""


class BrokenAnswer(UpstreamError):
    """The answer started and then failed; it cannot be retried."""

    def __init__(self, message: str, *, started: bool = False) -> None:
        super().__init__(message)
        self.started = started
        """Part of the answer was passed on to the caller already."""


class TimedOut(UpstreamError):
    """No answer within the replica timeout."""


class ReplicaConnection(asyncio.Protocol):
    """One keep-alive connection to a replica; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.received = False
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.headers_done = False
        self.complete = False
        self.keep_alive = True
        self.delimited = False
        self.error: UpstreamError | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.paused = False

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.received = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            self._fail(BrokenAnswer(f"the replica's answer is not valid HTTP: {error}"))
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.complete or self.error is not None:
            return
        if self.headers_done and not self.delimited:
            self.complete = True  # a body that ends when the connection does
            self._wake()
        elif not self.received:
            self._fail(NotReached("the replica closed the connection", refused=False))
        else:
            self._fail(BrokenAnswer("the replica closed the connection mid-answer"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"content-length" or (
            name == b"transfer-encoding" and value.lower().endswith(b"chunked")
        ):
            self.delimited = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()
        self.headers_done = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)
        if self.buffered > HIGH_WATER and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self._wake()

    # the caller's side
    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        self.error = error
        self._wake()

    def time_out(self) -> None:
        if not self.headers_done:
            self._fail(TimedOut("the replica did not answer in time"))
            self.abort()

    def send(self, head: bytes, body: bytes) -> None:
        assert self.transport is not None
        self._reset()
        if len(body) < SMALL_BODY:
            self.transport.write(head + body)
        else:  # no copy of a large body
            self.transport.write(head)
            self.transport.write(body)

    async def wait(self) -> None:
        """Until something happens on the connection (head, body bytes, end, failure)."""
        if self.error is not None:
            raise self.error
        self.waiter = self.loop.create_future()
        await self.waiter
        self.waiter = None
        if self.error is not None:
            raise self.error

    def take_body(self) -> bytes:
        body = b"".join(self.chunks) if len(self.chunks) != 1 else self.chunks[0]
        self.chunks.clear()
        self.buffered = 0
        if self.paused and self.transport is not None:
            self.paused = False
            self.transport.resume_reading()
        return body

    @property
    def reusable(self) -> bool:
        return self.complete and self.keep_alive and not self.closed and self.error is None

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class Replica:
    """One replica: where it is, how many requests it has in flight, its idle connections."""

    __slots__ = (
        "_head",
        "answer_headers",
        "connect_timeout",
        "down_until",
        "endpoint",
        "host",
        "id",
        "idle",
        "in_flight",
        "port",
        "retired",
        "timeout",
    )

    def __init__(
        self, replica_id: str, endpoint: str, *, timeout: float, connect_timeout: float
    ) -> None:
        url = urlsplit(endpoint)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"replica endpoint {endpoint!r} must be http://host:port")
        self.id = replica_id
        self.endpoint = endpoint
        self.host = url.hostname
        self.port = url.port or 80
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.in_flight = 0
        self.down_until = 0.0
        """Monotonic time until which a replica that refused connections is avoided."""
        self.retired = False
        self.idle: list[ReplicaConnection] = []
        self.answer_headers = [(b"x-flotilla-replica", replica_id.encode())]
        """Added to the replica's answers: which replica served (for debugging)."""
        path = url.path.rstrip("/") + "/predict"
        netloc = url.netloc.rpartition("@")[2]
        self._head = (
            f"POST {path} HTTP/1.1\r\nHost: {netloc}\r\n"
            "Content-Type: application/json\r\nContent-Length: "
        ).encode()

    def mark_down(self, seconds: float) -> None:
        self.down_until = time.monotonic() + seconds

    def up_again(self) -> bool:
        """Whether a replica marked down may be tried again (and if so, it is no longer down)."""
        if self.down_until > time.monotonic():
            return False
        self.down_until = 0.0
        return True

    async def _connection(self) -> ReplicaConnection:
        while self.idle:
            conn = self.idle.pop()
            if not conn.closed:
                return conn
        loop = asyncio.get_running_loop()
        try:
            _, conn = await asyncio.wait_for(
                loop.create_connection(lambda: ReplicaConnection(loop), self.host, self.port),
                self.connect_timeout,
            )
        except (OSError, TimeoutError) as error:
            raise NotReached(
                f"cannot connect to replica {self.id}: {error}", refused=True
            ) from None
        return conn

    def _release(self, conn: ReplicaConnection) -> None:
        if conn.reusable and not self.retired and len(self.idle) < MAX_IDLE_CONNECTIONS:
            self.idle.append(conn)
        else:
            conn.abort()

    async def forward(
        self, body: bytes, send: Send, extra_headers: list[tuple[bytes, bytes]]
    ) -> int:
        """POST ``body`` to the replica's /predict and stream its answer to ``send`` (ASGI).
        Answers the status the replica gave."""
        conn = await self._connection()
        conn.send(self._head + b"%d\r\n\r\n" % len(body), body)
        timer = conn.loop.call_later(self.timeout, conn.time_out)
        try:
            while not conn.headers_done:
                await conn.wait()
        except BaseException:
            conn.abort()
            raise
        finally:
            timer.cancel()
        headers = [(n, v) for n, v in conn.headers if n not in HOP_BY_HOP]
        headers.extend(extra_headers)
        try:
            await send({"type": "http.response.start", "status": conn.status, "headers": headers})
            while True:
                if conn.chunks or conn.complete:
                    more = not conn.complete
                    await send(
                        {"type": "http.response.body", "body": conn.take_body(), "more_body": more}
                    )
                    if not more:
                        break
                await conn.wait()
        except UpstreamError as error:
            conn.abort()
            raise BrokenAnswer(str(error), started=True) from None
        except BaseException:
            conn.abort()
            raise
        self._release(conn)
        return conn.status

    def retire(self) -> None:
        """No new requests: close idle connections now, busy ones when their answer is done."""
        self.retired = True
        for conn in self.idle:
            conn.abort()
        self.idle.clear()
