"""Jinja2 for the console: the environment, display filters, and rendering a page or one of its
live fragments (a ``{% block %}`` the page's poller fetches with ``?fragment=NAME``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from flotilla.domain.errors import FlotillaError, RouteNotFound
from flotilla.domain.quantities import format_cpu, format_memory
from flotilla.domain.time import as_utc


def age(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, in the largest sensible unit: ``45s``, ``12m``, ``3h``, ``2d``."""
    if value is None:
        return "—"
    seconds = max(((now or datetime.now(UTC)) - as_utc(value)).total_seconds(), 0)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s"


def money(value: float | None) -> str:
    if value is None:
        return "—"
    if value and abs(value) < 0.01:
        return f"${value:.4f}"
    return f"${value:,.2f}"


def hours(value: float) -> str:
    """Compute time: hours, or minutes while under a tenth of an hour."""
    if 0 < value < 0.1:
        return f"{value * 60:.1f} min"
    return f"{value:,.2f} h"


def when(value: datetime | None) -> str:
    return "—" if value is None else as_utc(value).strftime("%Y-%m-%d %H:%M:%S UTC")


def clock(epoch_seconds: float) -> str:
    """A Unix time as ``HH:MM:SS`` (UTC), for log lines."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%H:%M:%S")


def label(value: Any) -> str:
    """An enum value as words: ``on_demand`` → ``on demand``."""
    return str(getattr(value, "value", value)).replace("_", " ")


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("flotilla.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        age=age,
        money=money,
        hours=hours,
        when=when,
        label=label,
        clock=clock,
        cpu=format_cpu,
        memory=format_memory,
    )
    # Macros as a global (not a per-template import), so a block rendered alone sees them too.
    env.globals["ui"] = env.get_template("macros.html").module
    return env


ENV = _environment()


SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
"""Pages are not cached, framed, or allowed to run or load anything but the console's own files."""


def render(
    request: Request, name: str, context: dict[str, Any], status_code: int = 200
) -> Response:
    """The page; with ``?fragment=NAME`` only that block of it, as HTML; with
    ``?fragments=A,B`` those blocks as JSON (what the live poller fetches, once per tick)."""
    template = ENV.get_template(name)
    values = {"request": request, **context}

    def block(fragment: str) -> str:
        found = template.blocks.get(fragment)
        if found is None:
            raise RouteNotFound(f"this page has no fragment '{fragment}'")
        return "".join(found(template.new_context(values)))

    if "fragments" in request.query_params:
        names = request.query_params["fragments"].split(",")
        blocks = {fragment: block(fragment) for fragment in names}
        return JSONResponse(blocks, status_code=status_code, headers=SECURITY_HEADERS)
    if "fragment" in request.query_params:
        html = block(request.query_params["fragment"])
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)
    return HTMLResponse(template.render(values), status_code=status_code, headers=SECURITY_HEADERS)


class FormErrors:
    """A service error as a form shows it: the message on top, each field's text beside it."""

    def __init__(self, error: FlotillaError | None = None, **renamed: str) -> None:
        self.code = error.code if error else ""
        self.message = error.message if error else ""
        self.fields: dict[str, str] = {}
        for key, text in (error.fields if error else {}).items():
            self.fields[_rename(key, renamed)] = text

    def __bool__(self) -> bool:
        return bool(self.message)

    def at(self, name: str) -> str:
        """What is wrong with field ``name`` (or with any part of it: ``instance_types.0``)."""
        found = [
            text
            for key, text in self.fields.items()
            if key == name or key.startswith(name + ".") or key.startswith(name + ":")
        ]
        return "; ".join(dict.fromkeys(found))


def _rename(key: str, renamed: dict[str, str]) -> str:
    """An API field path as the form names it (``nodepools.1.priority`` → the second chosen
    nodepool's row)."""
    for old, new in renamed.items():
        if key == old or key.startswith(old + "."):
            return new + key[len(old) :]
    return key
