"""The replica server: one model, ``/predict``, ``/healthz`` and ``/ready`` over HTTP/1.1.

The contract (exit codes, readiness, threads, draining) is in ``flotilla.runtime``'s docstring.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import inspect
import json
import logging
import signal
import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flotilla.runtime import http
from flotilla.runtime.loader import make_model
from flotilla.runtime.model import InvalidInput

log = logging.getLogger("flotilla.runtime")

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_LOAD_FAILED = 3
EXIT_LISTEN_FAILED = 4

MAX_MESSAGE_CHARS = 10_000
LINGER_SECONDS = 2.0
"""After an error that closes the connection, unread request bytes are drained this long, so
that the client reads the answer instead of a connection reset."""
_LARGE_WRITE = 64 * 1024

Result = tuple[int, bytes]


class State(enum.Enum):
    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class Options:
    package: Path
    entrypoint: str
    host: str = "127.0.0.1"
    port: int = 0
    threads: int = 4
    max_body_bytes: int = 64 * 2**20
    keep_alive_timeout: float = 75.0
    grace_period: float = 30.0


class _Connection:
    """What the sweeper and the drain need to know about one client connection."""

    __slots__ = ("idle", "since", "writer")

    def __init__(self, writer: asyncio.StreamWriter, now: float) -> None:
        self.writer = writer
        self.idle = True  # waiting for the next request's head
        self.since = now  # when the current phase (idle, or this request) began


def _message(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return text if len(text) <= MAX_MESSAGE_CHARS else text[:MAX_MESSAGE_CHARS] + "…"


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


_NOT_JSON = 'the body must be JSON: {"inputs": ...}'
_NO_INPUTS = 'the body must be a JSON object with an "inputs" field'


class ReplicaServer:
    def __init__(self, options: Options) -> None:
        self.options = options
        self.state = State.LOADING
        self.load_error: str | None = None
        self.draining = False
        self.inflight = 0
        self.port = options.port
        self.abandoned_work = False
        """True when the process must not wait for worker threads at exit (load or predict
        still running after the grace period)."""
        self._connections: set[_Connection] = set()
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, options.threads), thread_name_prefix="flotilla-predict"
        )
        self._predict: Callable[[bytes], Any] | None = None
        self._stop: asyncio.Event | None = None
        self._drained: asyncio.Event | None = None
        self._signals = 0

    # -- lifecycle -------------------------------------------------------------------------------

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (then drain and answer ``EXIT_OK``) or a load failure
        (``EXIT_LOAD_FAILED``)."""
        loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._drained = asyncio.Event()
        opts = self.options
        try:
            server = await asyncio.start_server(
                self._serve_connection,
                opts.host,
                opts.port,
                limit=http.MAX_HEAD_BYTES,
                backlog=2048,
                reuse_address=True,
            )
        except OSError as error:
            log.error("cannot listen on %s:%s: %s", opts.host, opts.port, error)
            return EXIT_LISTEN_FAILED
        self.port = server.sockets[0].getsockname()[1]
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self._on_signal, signum)
        sweeper = asyncio.create_task(self._sweep())
        log.info("listening on %s; loading %s from %s", self.url, opts.entrypoint, opts.package)
        load = asyncio.create_task(self._load())
        stop = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait({load, stop}, return_when=asyncio.FIRST_COMPLETED)
            if load.done() and self.state is State.FAILED:
                server.close()
                self._close_all()
                return EXIT_LOAD_FAILED
            if load.done():
                self.state = State.READY
                with contextlib.suppress(OSError):  # stdout closed: /ready still tells
                    print(f"ready on {self.url}", flush=True)
                await stop
            else:
                self.abandoned_work = True  # load() is still running in its thread
                log.info("stopping before load() finished")
            await self._drain(server)
            log.info("stopped")
            return EXIT_OK
        finally:
            for task in (sweeper, load, stop):
                task.cancel()
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(signum)
            self._pool.shutdown(wait=not self.abandoned_work, cancel_futures=True)

    @property
    def url(self) -> str:
        host = self.options.host
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def _on_signal(self, signum: int) -> None:
        self._signals += 1
        assert self._stop is not None
        if self._signals == 1:
            log.info(
                "%s: draining (grace %ss)", signal.Signals(signum).name, self.options.grace_period
            )
            self._stop.set()
        else:  # a second signal: stop now
            log.warning("%s again: exiting without waiting", signal.Signals(signum).name)
            self.abandoned_work = True
            assert self._drained is not None
            self._drained.set()

    async def _drain(self, server: asyncio.Server) -> None:
        """Stop accepting; close idle connections; let in-flight requests finish (each then
        closes its connection), within the grace period."""
        assert self._drained is not None
        self.draining = True
        server.close()
        for connection in list(self._connections):
            if connection.idle:
                connection.writer.close()
        if not self._connections:
            self._drained.set()
        try:
            await asyncio.wait_for(self._drained.wait(), self.options.grace_period)
        except TimeoutError:
            log.warning(
                "grace period of %ss over with %d request(s) in flight; exiting",
                self.options.grace_period,
                self.inflight,
            )
            self.abandoned_work = True
        self._close_all()

    def _close_all(self) -> None:
        for connection in list(self._connections):
            connection.writer.close()

    async def _sweep(self) -> None:
        """Close connections idle (or stuck sending a request) past the keep-alive timeout."""
        timeout = self.options.keep_alive_timeout
        interval = min(1.0, timeout / 2)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for connection in list(self._connections):
                if connection.idle and now - connection.since > timeout:
                    connection.writer.close()

    # -- the model -------------------------------------------------------------------------------

    async def _load(self) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        try:
            model = await loop.run_in_executor(
                self._pool, make_model, self.options.package, self.options.entrypoint
            )
            if inspect.iscoroutinefunction(model.load):
                await model.load()
            else:
                result = await loop.run_in_executor(self._pool, model.load)
                if inspect.isawaitable(result):  # e.g. a decorated async load
                    await result
        except asyncio.CancelledError:
            raise
        except BaseException as error:
            self.state = State.FAILED
            self.load_error = f"{type(error).__name__}: {_message(error)}"
            traceback.print_exception(error, file=sys.stderr)
            log.error("model failed to load: %s", self.load_error)
            return
        self._predict = self._bind(model)
        log.info(
            "loaded %s in %.2fs (%s)",
            type(model).__name__,
            time.monotonic() - started,
            self._mode(model),
        )

    @staticmethod
    def _mode(model: Any) -> str:
        if inspect.iscoroutinefunction(model.predict):
            return "async predict"
        if getattr(model, "inline", False):
            return "inline predict"
        return "predict in threads"

    def _bind(self, model: Any) -> Callable[[bytes], Any]:
        """The coroutine function that answers one ``/predict`` body for this model."""
        predict = model.predict
        loop = asyncio.get_running_loop()
        pool = self._pool

        if inspect.iscoroutinefunction(predict):

            async def predict_async(body: bytes) -> Result:
                inputs = _decode(body)
                if not isinstance(inputs, _Inputs):
                    return inputs
                try:
                    outputs = await predict(inputs.value)
                except asyncio.CancelledError:
                    raise
                except BaseException as error:
                    return _model_error(error)
                return _encode(outputs)

            return predict_async

        def predict_sync(body: bytes) -> Result:
            inputs = _decode(body)
            if not isinstance(inputs, _Inputs):
                return inputs
            try:
                outputs = predict(inputs.value)
            except (Exception, SystemExit, KeyboardInterrupt) as error:
                return _model_error(error)
            return _encode(outputs)

        if getattr(model, "inline", False):

            async def predict_inline(body: bytes) -> Result:
                return predict_sync(body)

            return predict_inline

        async def predict_threaded(body: bytes) -> Result:
            return await loop.run_in_executor(pool, predict_sync, body)

        return predict_threaded

    # -- HTTP ------------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        connection = _Connection(writer, loop.time())
        self._connections.add(connection)
        try:
            while not self.draining:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except asyncio.IncompleteReadError:
                    return  # the client closed the connection
                except asyncio.LimitOverrunError:
                    message = f"the request head is over {http.MAX_HEAD_BYTES} bytes"
                    await self._refuse(
                        reader, writer, http.HttpError(431, "HEADERS_TOO_LARGE", message)
                    )
                    return
                if writer.is_closing():
                    return  # closed by the drain or the sweeper meanwhile: do not start it
                connection.idle = False
                self.inflight += 1
                try:
                    keep_alive = await self._handle(head, reader, writer)
                finally:
                    self.inflight -= 1
                    connection.idle = True
                    connection.since = loop.time()
                if not keep_alive:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away mid-request
        except asyncio.CancelledError:
            # The process is exiting (a failed load, a second signal): end quietly, or asyncio
            # logs a traceback that would bury the real reason in the replica's last lines.
            return
        except Exception:
            log.exception("unexpected error serving a connection")
        finally:
            self._connections.discard(connection)

            writer.close()
            if self.draining and not self._connections and self._drained is not None:
                self._drained.set()

    async def _handle(
        self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Answer one request; True to keep the connection open for the next one."""
        try:
            request = http.parse_head(head)
        except http.HttpError as error:
            await self._refuse(reader, writer, error)
            return False
        method = request.method
        path = request.path
        extra = ""
        unread_body = request.has_body
        if path == "/predict":
            if method != "POST":
                status, body, extra = (
                    405,
                    _method_not_allowed(method, path, "POST"),
                    "Allow: POST\r\n",
                )
            else:
                try:
                    payload = await http.read_body(
                        request, reader, writer, self.options.max_body_bytes
                    )
                except http.HttpError as error:
                    await self._refuse(reader, writer, error)
                    return False
                unread_body = False
                if self._predict is not None:
                    status, body = await self._predict(payload)
                else:
                    status, body = self._not_ready()
                    extra = "Retry-After: 1\r\n"
        elif path == "/healthz" or path == "/ready":
            if method != "GET" and method != "HEAD":
                status, body = 405, _method_not_allowed(method, path, "GET, HEAD")
                extra = "Allow: GET, HEAD\r\n"
            elif path == "/healthz":
                status, body = 200, self._health()
            elif self.state is State.READY and not self.draining:
                status, body = 200, b'{"status":"ready"}'
            else:
                status, body = self._not_ready()
        else:
            status = 404
            body = http.error_body(
                "NOT_FOUND", f"no such path {path!r}: use /predict, /healthz or /ready"
            )

        if unread_body:
            if request.expect_continue:
                request.keep_alive = False  # answer without reading the body, then close
            else:
                try:
                    await http.read_body(request, reader, writer, self.options.max_body_bytes)
                except http.HttpError as error:
                    await self._refuse(reader, writer, error)
                    return False

        keep_alive = request.keep_alive and not self.draining
        if writer.is_closing():
            return False
        data = http.response(
            status,
            body,
            keep_alive=keep_alive,
            http10=request.http10,
            head_only=method == "HEAD",
            headers=extra,
        )
        writer.write(data)
        if len(data) > _LARGE_WRITE:
            await writer.drain()
        if unread_body and request.expect_continue:
            await self._linger(reader, writer)
        return keep_alive

    async def _refuse(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, error: http.HttpError
    ) -> None:
        """Answer a request that cannot be served, then close its connection."""
        if not writer.is_closing():
            body = http.error_body(error.code, error.message)
            writer.write(http.response(error.status, body, keep_alive=False))
            await self._linger(reader, writer)

    @staticmethod
    async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Send FIN, then read and drop what the client still sends for a moment: closing with
        unread data would reset the connection and could destroy the answer in flight."""
        with contextlib.suppress(OSError, RuntimeError):
            if writer.can_write_eof():
                writer.write_eof()
        with contextlib.suppress(OSError, TimeoutError, asyncio.LimitOverrunError, ValueError):
            async with asyncio.timeout(LINGER_SECONDS):
                while await reader.read(65536):
                    pass

    def _not_ready(self) -> Result:
        if self.draining:
            return 503, http.error_body("DRAINING", "the replica is shutting down")
        if self.state is State.FAILED:
            return 503, http.error_body("LOAD_FAILED", f"load() failed: {self.load_error}")
        return 503, http.error_body("NOT_READY", "the model is still loading")

    def _health(self) -> bytes:
        state = "draining" if self.draining else self.state.value
        # in flight besides this probe
        return _json({"status": "ok", "state": state, "inflight": self.inflight - 1})


def _method_not_allowed(method: str, path: str, allowed: str) -> bytes:
    return http.error_body(
        "METHOD_NOT_ALLOWED", f"{method} is not allowed on {path}: use {allowed}"
    )


class _Inputs:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _decode(body: bytes) -> _Inputs | Result:
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as error:
        return 400, http.error_body("INVALID_INPUT", f"{_NOT_JSON}; {error}")
    if not isinstance(payload, dict) or "inputs" not in payload:
        return 400, http.error_body("INVALID_INPUT", _NO_INPUTS)
    return _Inputs(payload["inputs"])


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _encode(outputs: Any) -> Result:
    try:
        return 200, _ENCODER.encode({"outputs": outputs}).encode()
    except (TypeError, ValueError, RecursionError) as error:
        message = f"predict returned outputs that are not JSON: {_message(error)}"
        log.error("%s", message)
        return 500, http.error_body("MODEL_ERROR", message, type=type(error).__name__)


def _model_error(error: BaseException) -> Result:
    if isinstance(error, InvalidInput):
        return 400, http.error_body("INVALID_INPUT", _message(error))
    log.error(
        "predict raised %s",
        "".join(traceback.format_exception(error)).rstrip(),
    )
    return 500, http.error_body("MODEL_ERROR", _message(error), type=type(error).__name__)
