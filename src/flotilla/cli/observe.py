"""``flotilla events``, ``flotilla usage`` and ``flotilla instance-types``: what happened, what
it cost, and what machines there are."""

from __future__ import annotations

import itertools
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla.cli import output
from flotilla.cli.common import Output, parse_time, sdk
from flotilla.cli.output import Column, Format

if TYPE_CHECKING:
    from flotilla.client.types import Event, InstanceType

EVENT_COLUMNS = (
    Column("TYPE", lambda e: e.type),
    Column("OBJECT", lambda e: f"{e.object_kind}/{e.object_id}"),
    Column("REASON", lambda e: e.reason),
    Column("MESSAGE", lambda e: e.message, wrap=True),
    Column("AGE", lambda e: e.time),
)


def _cpu(millicores: int) -> str:
    from flotilla.domain.quantities import format_cpu

    return format_cpu(millicores)


def _memory(num_bytes: int | None) -> str | None:
    from flotilla.domain.quantities import format_memory

    return format_memory(num_bytes) if num_bytes else None


def _price(value: float | None) -> str | None:
    return None if value is None else f"{value:.4f}".rstrip("0").rstrip(".")


INSTANCE_TYPE_COLUMNS = (
    Column("PROVIDER", lambda t: t.cloud_provider),
    Column("REGION", lambda t: t.region),
    Column("ID", lambda t: t.id),
    Column("CPU", lambda t: _cpu(t.compute_info.cpu)),
    Column("MEMORY", lambda t: _memory(t.compute_info.memory)),
    Column("GPUS", lambda t: t.compute_info.accelerators),
    Column("GPU TYPE", lambda t: t.compute_info.accelerator_type),
    Column("GPU MEMORY", lambda t: _memory(t.compute_info.accelerator_memory)),
    Column("ON-DEMAND $/H", lambda t: _price(t.price_per_hour.on_demand)),
    Column("SPOT $/H", lambda t: _price(t.price_per_hour.spot)),
)


def events(
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing events as they happen.")
    ] = False,
    kind: Annotated[
        str | None,
        typer.Option(
            "--kind", help="Only this kind of object: compute_cluster, nodepool, deployment…"
        ),
    ] = None,
    object_id: Annotated[
        str | None,
        typer.Option("--object", help="Only this object (a cluster's id matches its nodepools)."),
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Only this reason, e.g. TOKEN_REVOKED.")
    ] = None,
    warnings: Annotated[bool, typer.Option("--warnings", help="Only warnings.")] = False,
    since: Annotated[
        str | None, typer.Option(help="Only after this time (2026-01-31T12:00:00Z) or age (1h).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest to show.")] = 50,
    fmt: Output = Format.TABLE,
) -> None:
    """Show what happened to your objects and why, oldest first; -f keeps following."""
    client = sdk()
    filters: dict[str, Any] = {
        "object_kind": kind,
        "object_id": object_id,
        "reason": reason,
        "type": "warning" if warnings else None,
        "since": parse_time(since, "--since"),
    }
    newest = list(itertools.islice(client.events(**filters), limit))
    recent = list(reversed(newest))
    if not follow:
        output.show_list(recent, EVENT_COLUMNS, fmt)
        return
    # With no event yet, every one that matches is new: follow from the first.
    after = max((e.id for e in newest), default=0)
    if fmt == Format.TABLE:
        typer.echo(f"{'TIME':<8}  {'TYPE':<7}  {'OBJECT':<36}  {'REASON':<24}  MESSAGE")
    try:
        following = client.events(follow=True, after_id=after, **filters)
        for event in itertools.chain(recent, following):
            _print_event(event, fmt)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _print_event(event: Event, fmt: Format) -> None:
    if fmt == Format.JSON:
        typer.echo(event.model_dump_json())
    elif fmt == Format.YAML:
        output.print_data([event], fmt)
    else:
        where = f"{event.object_kind}/{event.object_id}"
        typer.echo(
            f"{event.time.strftime('%H:%M:%S'):<8}  {event.type.value:<7}  {where:<36}  "
            f"{event.reason:<24}  {event.message}"
        )


class GroupBy(StrEnum):
    CLUSTER = "cluster"
    NODEPOOL = "nodepool"
    DEPLOYMENT = "deployment"
    INSTANCE_TYPE = "instance-type"
    CAPACITY_TYPE = "capacity-type"


GROUP_BY = {
    GroupBy.CLUSTER: "compute_cluster",
    GroupBy.NODEPOOL: "nodepool",
    GroupBy.DEPLOYMENT: "deployment",
    GroupBy.INSTANCE_TYPE: "instance_type",
    GroupBy.CAPACITY_TYPE: "capacity_type",
}


def usage(
    by: Annotated[
        GroupBy, typer.Option("--by", help="How to group node-hours and cost.")
    ] = GroupBy.CLUSTER,
    since: Annotated[
        str | None,
        typer.Option(help="From this time (2026-01-01T00:00:00Z) or age (24h); default 7d."),
    ] = None,
    until: Annotated[str | None, typer.Option(help="Until this time or age; default now.")] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Show node-hours and their cost (spot and on-demand priced apart) over a time range."""
    found = sdk().usage(
        GROUP_BY[by], since=parse_time(since, "--since"), until=parse_time(until, "--until")
    )
    if fmt != Format.TABLE:
        output.print_data(found, fmt)
        return
    header = by.value.upper().replace("-", " ")
    rows = [*found.rows, None]
    output.print_table(
        rows,
        (
            Column(header, lambda r: r.key if r else "TOTAL"),
            Column(
                "NODE-HOURS",
                lambda r: (
                    f"{r.node_hours:.2f}" if r else f"{sum(x.node_hours for x in found.rows):.2f}"
                ),
            ),
            Column("COST $", lambda r: f"{(r.cost if r else found.total_cost):.2f}"),
        ),
    )
    start = found.since.isoformat(timespec="seconds").replace("+00:00", "Z")
    end = found.until.isoformat(timespec="seconds").replace("+00:00", "Z")
    output.note(f"from {start} to {end}")


def instance_types(
    cloud: Annotated[str | None, typer.Option(help="Only this provider: local, aws, gcp…")] = None,
    region: Annotated[str | None, typer.Option(help="Only this region.")] = None,
    gpu: Annotated[
        bool | None,
        typer.Option(
            "--gpu/--no-gpu", help="Only with accelerators, or only without.", show_default=False
        ),
    ] = None,
    min_gpus: Annotated[
        int | None, typer.Option(min=0, help="At least this many accelerators.")
    ] = None,
    min_gpu_memory: Annotated[
        str | None, typer.Option(help="At least this much memory per accelerator, e.g. 24Gi.")
    ] = None,
    gpu_type: Annotated[
        str | None, typer.Option(help="Accelerator type, wildcards allowed: NVIDIA-*, *A100*.")
    ] = None,
    max_price: Annotated[
        float | None, typer.Option(min=0, help="At most this many USD per hour (on-demand).")
    ] = None,
    spot: Annotated[bool, typer.Option("--spot", help="Only types offered as spot.")] = False,
    fmt: Output = Format.TABLE,
) -> None:
    """List the machine shapes providers offer, cheapest first."""
    found: list[InstanceType] = list(
        sdk().instance_types.list(
            cloud_provider=cloud,
            region=region,
            gpu=gpu,
            min_gpus=min_gpus,
            min_gpu_memory=min_gpu_memory,
            accelerator_type=gpu_type,
            max_price=max_price,
            capacity_type="spot" if spot else None,
        )
    )
    output.show_list(found, INSTANCE_TYPE_COLUMNS, fmt)
