"""The API benchmark's tables: the budget view, and where each phase's CPU went."""

from __future__ import annotations

import sys
from typing import Any

from rich.console import Console
from rich.table import Table

console = Console(width=None if sys.stdout.isatty() else 110)


def print_report(rows: list[dict[str, Any]], objects: int, budgets: dict[str, float]) -> None:
    table = Table(title=f"Flotilla API, {objects:,} compute clusters (DESIGN §9 row 1)")
    for name in ("db", "GET/s", "create/s", "list p50 ms", "list p99 ms", "errors", "budgets"):
        table.add_column(name, justify="left" if name == "db" else "right")

    def mark(row: dict[str, Any], key: str, text: str) -> str:
        return f"[red]{text}[/red]" if key in row["missed"] else f"[green]{text}[/green]"

    for row in rows:
        errors = sum(p["errors"] for p in row["phases"].values())
        table.add_row(
            row["db"],
            mark(row, "get_per_s", f"{row['get_per_s']:,.0f}"),
            mark(row, "create_per_s", f"{row['create_per_s']:,.0f}"),
            f"{row['list_p50_ms']:.1f}",
            mark(row, "list_p99_ms", f"{row['list_p99_ms']:.1f}"),
            str(errors),
            "[green]met[/green]" if not row["missed"] else "[red]missed[/red]",
        )
    table.caption = (
        f"budgets: GET ≥ {budgets['get_per_s']:,.0f}/s, create ≥ {budgets['create_per_s']:,.0f}/s, "
        f"list p99 ≤ {budgets['list_p99_ms']:.0f} ms"
    )
    console.print(table)
    detail = Table(title="where the CPU went (% of one core, over each phase)")
    for name in ("db", "phase", "requests", "p50 ms", "p99 ms", "server CPU", "server ms/req"):
        detail.add_column(name, justify="left" if name in ("db", "phase") else "right")
    detail.add_column("load CPU", justify="right")
    detail.add_column("other CPU", justify="right")
    for row in rows:
        for name, p in row["phases"].items():
            detail.add_row(
                row["db"],
                name,
                f"{p['requests']:,}",
                f"{p['p50_ms']:.1f}",
                f"{p['p99_ms']:.1f}",
                f"{p['server_cpu_pct']:.0f}%",
                f"{p['server_cpu_ms_per_request']:.2f}",
                f"{p['client_cpu_pct']:.0f}%",
                f"{p['other_cpu_pct']:.0f}%",
            )
    console.print(detail)
    for row in rows:
        for name, p in row["phases"].items():
            for sample in p["error_samples"]:
                console.print(f"[red]{row['db']} {name} error:[/red] {sample}")
