"""What commands print: tables by default, JSON or YAML with ``-o``; errors as one line on stderr.

Tables are plain (no borders, no colour unless the output is a terminal), one object per row,
with the age of each object in the last column, as kubectl prints them. When the output is not a
terminal and ``COLUMNS`` is not set, rows are not wrapped, so that scripts can split them.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, StrEnum
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

NONE = "-"
UNWRAPPED_WIDTH = 1000


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"
    YAML = "yaml"


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[Any], Any]
    """The cell: text, a number, a time (shown as an age), a list, or None (shown as -)."""
    wrap: bool = False
    """Free text (messages, descriptions): the column that wraps when the table is too wide;
    the others keep their width."""


def console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    wide = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(
        file=stream,
        highlight=False,
        emoji=False,
        markup=False,
        width=UNWRAPPED_WIDTH if wide else None,
        soft_wrap=False,
    )


def now() -> datetime:
    return datetime.now(UTC)


def age(when: datetime, at: datetime | None = None) -> str:
    """How long ago, in the largest unit that keeps two digits or fewer: 5s, 3m, 2h, 4d."""
    seconds = max(int(((at or now()) - when).total_seconds()), 0)
    for unit, size, limit in (("s", 1, 120), ("m", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if seconds < limit:
            return f"{seconds // size}{unit}"
    return f"{seconds // 86_400}d"


def cell(value: Any) -> str:
    if value is None or value == "" or value == []:
        return NONE
    if isinstance(value, datetime):
        return age(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(cell(item) for item in value)
    return str(value)


def plain_table() -> Table:
    return Table(
        box=None,
        show_edge=False,
        pad_edge=False,
        padding=(0, 3, 0, 0),
        header_style="bold",
        highlight=False,
    )


def print_rendered(table: Table) -> None:
    """The table's lines, without the spaces Rich pads them with on the right."""
    out = console()
    with out.capture() as captured:
        out.print(table)
    lines = [line.rstrip() for line in captured.get().splitlines()]
    typer.echo("\n".join(lines))


def print_table(rows: Iterable[Any], columns: Sequence[Column]) -> None:
    cells = [[cell(c.value(row)) for c in columns] for row in rows]
    table = plain_table()
    for index, column in enumerate(columns):
        widest = max([len(column.header), *(len(line[index]) for line in cells)])
        if column.wrap:
            table.add_column(column.header, overflow="fold", min_width=min(widest, 20))
        else:
            table.add_column(column.header, no_wrap=True, min_width=widest)
    for line in cells:
        table.add_row(*(Text(value) for value in line))
    print_rendered(table)


def is_model(value: Any) -> bool:
    """A pydantic model (told by its methods: pydantic itself is imported only when used)."""
    return hasattr(value, "model_dump") and hasattr(type(value), "model_fields")


def jsonable(value: Any) -> Any:
    if is_model(value):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    return value


def print_data(value: Any, fmt: Format) -> None:
    """``value`` (a resource, a list of them, or plain data) as JSON or YAML."""
    data = jsonable(value)
    if fmt == Format.YAML:
        typer.echo(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), nl=False)
    else:
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show_list(items: Iterable[Any], columns: Sequence[Column], fmt: Format) -> None:
    if fmt == Format.TABLE:
        print_table(items, columns)
    else:
        print_data(list(items), fmt)


# one object: a two-column table of its fields
TIMESTAMPS = ("created_at", "modified_at")


def _flatten(prefix: str, value: Any, into: list[tuple[str, Any]]) -> None:
    if is_model(value):
        value = dict(value)
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), item, into)
    else:
        into.append((prefix, value))


def detail_value(value: Any) -> str:
    if isinstance(value, datetime):
        stamp = value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return f"{stamp} ({age(value)} ago)"
    if isinstance(value, dict):
        return ", ".join(f"{k}={cell(v)}" for k, v in value.items()) or NONE
    if isinstance(value, list) and value and (is_model(value[0]) or isinstance(value[0], dict)):
        return "; ".join(
            " ".join(f"{k}={cell(v)}" for k, v in dict(item).items()) for item in value
        )
    return cell(value)


def show_one(
    item: Any,
    fmt: Format,
    *,
    values: dict[str, Callable[[Any], str]] | None = None,
) -> None:
    """Every field, nested ones with dotted names, times last; ``values`` renders some fields
    in their own way."""
    if fmt != Format.TABLE:
        print_data(item, fmt)
        return
    fields: list[tuple[str, Any]] = []
    for name in type(item).model_fields:
        if name in TIMESTAMPS:
            continue
        value = getattr(item, name)
        if values and name in values:
            fields.append((name, values[name](value)))
        else:
            _flatten(name, value, fields)
    fields.extend((name, getattr(item, name)) for name in TIMESTAMPS if hasattr(item, name))
    table = plain_table()
    table.show_header = False
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in fields:
        shown = value if values and name in values else detail_value(value)
        table.add_row(Text(f"{name}:"), Text(shown))
    print_rendered(table)


def say(message: str) -> None:
    """A line for people (what a command did), on stdout."""
    typer.echo(message)


def note(message: str) -> None:
    """A remark beside the output (progress, hints), on stderr."""
    typer.echo(message, err=True)


def error(code: str, message: str) -> None:
    typer.echo(f"Error {code}: {message}", err=True)
