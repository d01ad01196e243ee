"""One HTTP exchange with the server or the gateway, sync or async: a timeout on every call,
retries with back-off on connection errors for idempotent calls only, and every error answer
turned into the exception class of its code.

What to send is data (a ``Call``, built in ``calls``); this module only carries it out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, Literal, TypeVar

import httpx

from flotilla import __version__
from flotilla.client.config import Config
from flotilla.errors import (
    ClientError,
    FlotillaError,
    RequestTimedOut,
    ServerUnreachable,
    Unauthenticated,
    error_from_code,
)

T = TypeVar("T")
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
"""PATCH is a JSON merge patch: sending it twice leaves what sending it once does."""
RETRYABLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.PoolTimeout,
)
"""Failures where the request most likely did not take effect, or may safely be repeated."""
FIRST_BACKOFF = 0.2
MAX_BACKOFF = 2.0


@dataclass(frozen=True)
class Call(Generic[T]):
    """One request and how to read its answer."""

    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: dict[str, Any] | None = None
    json: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    to: Literal["server", "gateway"] = "server"
    timeout: float | None = None
    """Overrides the client's timeout (predictions and uploads take longer)."""
    idempotent: bool | None = None
    """Whether a connection error may be retried; by default, by method."""

    @property
    def retryable(self) -> bool:
        if self.idempotent is not None:
            return self.idempotent
        return self.method in IDEMPOTENT_METHODS

    def with_params(self, **params: Any) -> Call[T]:
        return replace(self, params={**(self.params or {}), **params})


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (1, 2, …): 0.2, 0.4, 0.8… up to 2."""
    return float(min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF))


def error_of(response: httpx.Response) -> FlotillaError:
    """The exception an error answer stands for, by its code (never by its message)."""
    try:
        body = response.json()
        error = body["error"]
        code, message = str(error["code"]), str(error.get("message") or "")
        fields = error.get("fields") if isinstance(error.get("fields"), dict) else None
    except (ValueError, KeyError, TypeError):
        code = f"HTTP_{response.status_code}"
        message = response.text.strip()[:500] or response.reason_phrase
        fields = None
    return error_from_code(code, message, fields, status=response.status_code)


def check(response: httpx.Response) -> httpx.Response:
    if response.is_error:
        raise error_of(response)
    return response


def _no_token(config: Config) -> Unauthenticated:
    return Unauthenticated(
        f"no token for {config.url}: pass token=, set FLOTILLA_TOKEN, or run "
        "'flotilla login' (which saves one in $FLOTILLA_HOME/credentials)"
    )


def _unreachable(config: Config, call: Call[Any], error: Exception) -> ServerUnreachable:
    base = config.gateway_url if call.to == "gateway" else config.url
    what = "the gateway" if call.to == "gateway" else "the server"
    reason = str(error) or type(error).__name__
    return ServerUnreachable(f"cannot reach {what} at {base}: {reason}")


def _timed_out(call: Call[Any], timeout: float) -> RequestTimedOut:
    return RequestTimedOut(f"{call.method} {call.path} had no answer within {timeout:g} s")


def failure(
    config: Config, call: Call[Any], error: httpx.TransportError, attempt: int, timeout: float
) -> ClientError | None:
    """What to raise after the ``attempt``-th failed try, or None to try again."""
    if call.retryable and isinstance(error, RETRYABLE) and attempt <= config.retries:
        return None
    if isinstance(error, httpx.TimeoutException) and not isinstance(
        error, (httpx.ConnectTimeout, httpx.PoolTimeout)
    ):
        return _timed_out(call, timeout)
    return _unreachable(config, call, error)


def headers(config: Config) -> dict[str, str]:
    found = {"User-Agent": f"flotilla-sdk/{__version__}"}
    if config.token:
        found["Authorization"] = f"Bearer {config.token}"
    return found


def client_options(config: Config, base_url: str) -> dict[str, Any]:
    """httpx options for one base URL. Over plain HTTP no certificate is ever checked (and
    redirects are not followed), so the CA bundle, slow to load, is not loaded."""
    options: dict[str, Any] = {"base_url": base_url, "headers": headers(config)}
    if base_url.startswith("http://"):
        options["verify"] = False
    return options


class SyncHTTP:
    def __init__(self, config: Config, transport: httpx.BaseTransport | None = None) -> None:
        self.config = config
        self.sleep: Callable[[float], None] = time.sleep
        self._transport = transport
        self._clients: dict[str, httpx.Client] = {}

    def _http(self, to: str) -> httpx.Client:
        if to not in self._clients:
            base = self.config.gateway_url if to == "gateway" else self.config.url
            options = client_options(self.config, base)
            self._clients[to] = httpx.Client(transport=self._transport, **options)
        return self._clients[to]

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        """The answer to ``call`` (raised as its error class when it is one)."""
        if not self.config.token:
            raise _no_token(self.config)
        http = self._http(call.to)
        timeout = call.timeout or self.config.timeout
        request = http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            content=call.content,
            headers=call.headers,
            timeout=timeout,
        )
        attempt = 0
        while True:
            try:
                response = http.send(request, stream=stream)
            except httpx.TransportError as error:
                attempt += 1
                problem = failure(self.config, call, error, attempt, timeout)
                if problem is not None:
                    raise problem from None
                self.sleep(backoff(attempt))
                continue
            if stream and response.is_error:
                response.read()
            return check(response)

    def run(self, call: Call[T]) -> T:
        return call.parse(self.send(call))


class AsyncHTTP:
    def __init__(self, config: Config, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.sleep: Callable[[float], Any] = asyncio.sleep
        self._transport = transport
        self._clients: dict[str, httpx.AsyncClient] = {}

    def _http(self, to: str) -> httpx.AsyncClient:
        if to not in self._clients:
            base = self.config.gateway_url if to == "gateway" else self.config.url
            options = client_options(self.config, base)
            self._clients[to] = httpx.AsyncClient(transport=self._transport, **options)
        return self._clients[to]

    async def close(self) -> None:
        for client in self._clients.values():
            await client.aclose()
        self._clients.clear()

    async def send(self, call: Call[Any], *, stream: bool = False) -> httpx.Response:
        if not self.config.token:
            raise _no_token(self.config)
        http = self._http(call.to)
        timeout = call.timeout or self.config.timeout
        request = http.build_request(
            call.method,
            call.path,
            params=call.params,
            json=call.json,
            content=call.content,
            headers=call.headers,
            timeout=timeout,
        )
        attempt = 0
        while True:
            try:
                response = await http.send(request, stream=stream)
            except httpx.TransportError as error:
                attempt += 1
                problem = failure(self.config, call, error, attempt, timeout)
                if problem is not None:
                    raise problem from None
                await self.sleep(backoff(attempt))
                continue
            if stream and response.is_error:
                await response.aread()
            return check(response)

    async def run(self, call: Call[T]) -> T:
        return call.parse(await self.send(call))
