"""``flotilla gateway``: the gateway app served by uvicorn (uvloop, httptools)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import signal
import socket
import tomllib
from collections.abc import Iterator
from pathlib import Path

import uvicorn
import uvloop

from flotilla.gateway.app import Gateway, GatewayOptions
from flotilla.gateway.server import GatewayProtocol
from flotilla.settings import Settings

DEFAULT_SERVER = "http://127.0.0.1:8700"


class MissingToken(Exception):
    """No token was given and none is saved."""


def credentials(server: str | None, token: str | None, home: Path | None = None) -> tuple[str, str]:
    """(server URL, token): what was given, else ``$FLOTILLA_HOME/credentials`` (TOML ``url``,
    ``token``, written by the server's first start), else the local default server."""
    saved: dict[str, object] = {}
    path = Settings(home=home).credentials_path if home else Settings().credentials_path
    if path.is_file() and not (server and token):
        saved = tomllib.loads(path.read_text())
    url = server or str(saved.get("url") or DEFAULT_SERVER)
    secret = token or saved.get("token")
    if not secret:
        raise MissingToken(
            f"no token: give --token or FLOTILLA_TOKEN (an admin-scope PAT), or run where {path} "
            "exists"
        )
    return url, str(secret)


def default_name(port: int) -> str:
    """``gw-<host>-<port>``: stable across restarts, so the server sees one gateway."""
    host = re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname())[:100] or "local"
    return f"gw-{host}-{port}"


def config(gateway: Gateway, log_level: str = "warning") -> uvicorn.Config:
    options = gateway.options
    return uvicorn.Config(
        gateway,
        host=options.host,
        port=options.port,
        loop="uvloop",
        http=GatewayProtocol,
        ws="none",
        lifespan="on",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level=log_level,
        backlog=4096,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=int(options.grace_period),
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """``run`` handles the signals: uvicorn's would re-raise SIGTERM after a clean drain,
        and the gateway would exit as killed instead of with status 0."""
        yield


async def serve(gateway: Gateway, log_level: str = "info") -> None:
    server = _Server(config(gateway, log_level))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.handle_exit, sig, None)
    await server.serve()


def run(options: GatewayOptions, log_level: str = "info") -> None:
    """Serve until SIGTERM or SIGINT; then stop accepting, let requests in flight finish (up to
    the grace period), send the last traffic report and exit."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per report is noise
    gateway = Gateway(options)
    logging.getLogger("flotilla.gateway").info(
        "gateway %s on http://%s:%d, routes from %s",
        options.name,
        options.host,
        options.port,
        options.server,
    )
    uvloop.run(serve(gateway, log_level))
