"""Where the SDK finds its server and token: arguments, then ``FLOTILLA_URL``/``FLOTILLA_TOKEN``,
then ``$FLOTILLA_HOME/credentials`` (TOML ``url``, ``token``, optional ``gateway_url``; written
by the server's first start and by ``flotilla login``), then the local default server.

The environment is read when a client is made, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from flotilla.credentials import read_credentials

DEFAULT_URL = "http://127.0.0.1:8700"
DEFAULT_GATEWAY_PORT = 8701
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3


@dataclass(frozen=True)
class Config:
    url: str
    token: str | None
    gateway_url: str
    timeout: float = DEFAULT_TIMEOUT
    """Seconds any one call may take (predictions and uploads get longer, see ``Client``)."""
    retries: int = DEFAULT_RETRIES
    """Further attempts of an idempotent call after a connection error."""


def home(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get("FLOTILLA_HOME") or "~/.flotilla").expanduser()


def credentials_path(environ: Mapping[str, str] | None = None) -> Path:
    return home(environ) / "credentials"


def gateway_for(url: str, port: int = DEFAULT_GATEWAY_PORT) -> str:
    """The gateway beside a server: the same scheme and host, on the gateway's port."""
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    return urlunsplit((parts.scheme or "http", f"{host}:{port}", "", "", ""))


def resolve(
    url: str | None = None,
    token: str | None = None,
    gateway_url: str | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Arguments win, then the environment, then the credentials file, then the defaults. The
    file's token is used only with the file's server (or when no server is named at all)."""
    env = os.environ if environ is None else environ
    url = url or env.get("FLOTILLA_URL") or None
    token = token or env.get("FLOTILLA_TOKEN") or None
    gateway_url = gateway_url or env.get("FLOTILLA_GATEWAY_URL") or None
    saved = read_credentials(credentials_path(env)) if not (url and token and gateway_url) else {}
    same_server = url is None or _same(url, saved.get("url"))
    if same_server:
        url = url or saved.get("url")
        token = token or saved.get("token")
        gateway_url = gateway_url or saved.get("gateway_url")
    url = (url or DEFAULT_URL).rstrip("/")
    return Config(
        url=url,
        token=token,
        gateway_url=(gateway_url or gateway_for(url)).rstrip("/"),
        timeout=timeout,
        retries=retries,
    )


def _same(a: str, b: str | None) -> bool:
    return b is not None and a.rstrip("/") == b.rstrip("/")
