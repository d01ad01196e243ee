"""What the API commands share: the connection (one SDK client per run), their options, errors
as one line with their code, and the small parsers of times, JSON inputs and ``--set``."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
import yaml
from typer.core import TyperGroup

from flotilla.cli import output
from flotilla.cli.output import Format

if TYPE_CHECKING:
    from flotilla.client import Client

T = TypeVar("T")
DEFAULT_WAIT = 600.0

Output = Annotated[
    Format,
    typer.Option(
        "--output", "-o", help="How to print the result: table, json or yaml.", show_default=False
    ),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
WaitReady = Annotated[
    bool, typer.Option("--wait", help="Show progress until it is ready, then return.")
]
WaitGone = Annotated[
    bool, typer.Option("--wait", help="Show progress until it is gone, then return.")
]
WaitTimeout = Annotated[
    float,
    typer.Option("--timeout", min=0, help="Seconds --wait waits before giving up (exit code 1)."),
]
Sets = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="FIELD=VALUE",
        help="Change any field: --set autoscale_config.max_replicas=6 (the value is YAML; "
        "repeatable).",
        show_default=False,
    ),
]


@dataclass
class Connection:
    """The root options (``flotilla --url … --token … COMMAND``), and the client made from them."""

    url: str | None = None
    token: str | None = None
    gateway_url: str | None = None
    timeout: float = 30.0
    _client: Client | None = field(default=None, repr=False)

    def client(self) -> Client:
        if self._client is None:
            from flotilla.client import Client

            self._client = Client(
                self.url, self.token, gateway_url=self.gateway_url, timeout=self.timeout
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


CONNECTION: ContextVar[Connection | None] = ContextVar("flotilla_connection", default=None)
"""Set by the root command for the run; read by every command that calls the API."""


def sdk() -> Client:
    """The SDK client of this run, made from the root options and the environment."""
    connection = CONNECTION.get()
    if connection is None:
        connection = Connection()
        CONNECTION.set(connection)
    return connection.client()


class FlotillaGroup(TyperGroup):
    """The root command: an error with a code — the server's, or the SDK's when there was no
    answer — ends the command with one line on stderr (``Error NODEPOOL_NOT_FOUND: …``) and exit
    code 1."""

    def invoke(self, ctx: Any) -> Any:
        from flotilla.errors import ClientError, FlotillaError

        try:
            return super().invoke(ctx)
        except (FlotillaError, ClientError) as failure:
            output.error(failure.code, failure.message)
            raise typer.Exit(1) from None


def confirm(question: str, yes: bool) -> None:
    """Ask before destroying something, unless ``--yes``; no answer (no terminal) is a no."""
    if yes:
        return
    if not typer.confirm(question, default=False, err=True):
        output.note("Nothing was deleted.")
        raise typer.Exit(1)


@contextmanager
def progress(message: str) -> Iterator[Callable[[str], None]]:
    """A Rich status line on stderr while waiting; yields a function that updates its text."""
    terminal = output.console(stderr=True)
    if not terminal.is_terminal:
        output.note(message)
        yield lambda _: None
        return
    with terminal.status(message) as status:
        yield lambda detail: status.update(f"{message} {detail}")


# parsing
DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw])$")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_time(value: str | None, option: str) -> datetime | None:
    """An ISO 8601 time (UTC when it names no zone), or a duration back from now: 30m, 24h, 7d."""
    if value is None:
        return None
    match = DURATION.match(value.strip())
    if match:
        seconds = float(match.group(1)) * UNITS[match.group(2)]
        return datetime.now(UTC) - timedelta(seconds=seconds)
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is neither a time (2026-01-31T12:00:00Z) nor a duration (30m, 24h, 7d)",
            param_hint=option,
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read_json(value: str, option: str) -> Any:
    """JSON given inline, or ``@file`` (``@-`` for stdin)."""
    where = "standard input" if value == "@-" else value[1:] if value.startswith("@") else None
    if value == "@-":
        text = sys.stdin.read()
    elif value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except OSError as error:
            raise typer.BadParameter(
                f"cannot read {value[1:]}: {error}", param_hint=option
            ) from None
    else:
        text = value
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        source = f" in {where}" if where else ""
        raise typer.BadParameter(f"not valid JSON{source}: {error}", param_hint=option) from None


def parse_sets(sets: list[str] | None) -> dict[str, Any]:
    """``a.b=value`` → ``{"a": {"b": value}}``, values read as YAML (``null`` resets a field)."""
    patch: dict[str, Any] = {}
    for item in sets or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not FIELD=VALUE", param_hint="--set")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = patch
        parts = key.strip().split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise typer.BadParameter(f"{key} sets a field inside a value", param_hint="--set")
        node[parts[-1]] = value
    return patch


def merge(changes: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """``changes`` from named options, with ``--set`` on top (nested objects merged)."""
    merged = dict(changes)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def given(**options: Any) -> dict[str, Any]:
    """The options the user gave (those not None)."""
    return {k: v for k, v in options.items() if v is not None}


def nothing_to_change(changes: dict[str, Any]) -> None:
    if not changes:
        raise typer.BadParameter("nothing to change: give an option or --set FIELD=VALUE")


def split_nodepool(value: str, cluster: str | None) -> tuple[str, str]:
    """``CLUSTER/NODEPOOL``, or ``NODEPOOL`` with ``--cluster``."""
    if "/" in value:
        first, _, second = value.partition("/")
        if cluster is not None and cluster != first:
            raise typer.BadParameter(f"{value} names cluster {first}, --cluster says {cluster}")
        return first, second
    if cluster is None:
        raise typer.BadParameter(
            f"which cluster is {value!r} in? Write CLUSTER/{value} or add --cluster CLUSTER"
        )
    return cluster, value
