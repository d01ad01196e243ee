"""``flotilla deployment …``, ``flotilla predict`` and ``flotilla logs``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla.cli import output
from flotilla.cli.clusters import deleted, gone
from flotilla.cli.common import (
    DEFAULT_WAIT,
    Output,
    Sets,
    WaitGone,
    WaitReady,
    WaitTimeout,
    Yes,
    confirm,
    given,
    merge,
    nothing_to_change,
    parse_sets,
    parse_time,
    progress,
    read_json,
    sdk,
)
from flotilla.cli.output import Column, Format

if TYPE_CHECKING:
    from flotilla.client.types import Deployment, LogLine
    from flotilla.domain.specs import NodepoolRef

deployment_app = typer.Typer(
    help="Deployments: a model version served on nodepools, scaled with its traffic.",
    no_args_is_help=True,
)
ENDED = ("stopped", "failed")


def _replicas(d: Deployment) -> str:
    live = sum(n for state, n in d.replicas.items() if state not in ENDED)
    return f"{d.replicas.get('ready', 0)}/{live}"


def _nodepools(refs: list[NodepoolRef]) -> str:
    return ",".join(f"{r.compute_cluster}/{r.nodepool}" for r in refs) or "-"


DEPLOYMENT_COLUMNS = (
    Column("ID", lambda d: d.id),
    Column("MODEL", lambda d: d.model),
    Column("VERSION", lambda d: d.resolved_model_version or d.model_version),
    Column("NODEPOOLS", lambda d: _nodepools(d.nodepools)),
    Column("READY", _replicas),
    Column(
        "MIN-MAX", lambda d: f"{d.autoscale_config.min_replicas}-{d.autoscale_config.max_replicas}"
    ),
    Column("STATUS", lambda d: d.status),
    Column("AGE", lambda d: d.created_at),
)
REPLICA_COLUMNS = (
    Column("ID", lambda r: r.id),
    Column("VERSION", lambda r: r.model_version),
    Column("NODEPOOL", lambda r: f"{r.compute_cluster}/{r.nodepool}" if r.nodepool else None),
    Column("NODE", lambda r: r.node),
    Column("STATE", lambda r: r.state),
    Column("REASON", lambda r: r.state_reason),
    Column("AGE", lambda r: r.created_at),
)

DeploymentId = Annotated[str, typer.Argument(help="The deployment's id.", show_default=False)]
Nodepools = Annotated[
    list[str] | None,
    typer.Option(
        "--nodepool",
        "-n",
        metavar="CLUSTER/NODEPOOL[:PRIORITY]",
        help="Where replicas may run: CLUSTER/NODEPOOL[:PRIORITY], priority 0–9, higher first "
        "(repeatable; default shared/default).",
        show_default=False,
    ),
]
MinReplicas = Annotated[int | None, typer.Option(min=0, help="Replicas kept running (default 0).")]
MaxReplicas = Annotated[int | None, typer.Option(min=1, help="Most replicas at once (default 5).")]
TargetConcurrency = Annotated[
    float | None,
    typer.Option(help="In-flight requests per replica the autoscaler aims for (default 4)."),
]
Scheduling = Annotated[
    str | None,
    typer.Option(
        "--scheduling",
        help="Which nodepool gets replicas: priority, price, prefer_spot, prefer_on_demand, "
        "utilization or random (default priority).",
    ),
]


def parse_nodepools(values: list[str] | None) -> list[dict[str, Any]] | None:
    if not values:
        return None
    refs = []
    for value in values:
        name, _, priority = value.partition(":")
        cluster, slash, pool = name.partition("/")
        if not slash or not cluster or not pool:
            raise typer.BadParameter(
                f"{value!r} is not CLUSTER/NODEPOOL[:PRIORITY]", param_hint="--nodepool"
            )
        ref: dict[str, Any] = {"compute_cluster": cluster, "nodepool": pool}
        if priority:
            if not priority.isdigit():
                raise typer.BadParameter(
                    f"priority {priority!r} is not 0–9", param_hint="--nodepool"
                )
            ref["priority"] = int(priority)
        refs.append(ref)
    return refs


def autoscale(**knobs: Any) -> dict[str, Any] | None:
    found = given(**knobs)
    return {"autoscale_config": found} if found else None


def wait_for_deployment(deployment: str, timeout: float) -> Deployment:
    from flotilla.client import waiting

    with progress(f"Waiting for a replica of deployment {deployment} to be ready…") as update:
        return sdk().deployments.wait_until_ready(
            deployment,
            timeout=timeout,
            on_update=lambda d: update(waiting.describe_deployment(d)),
        )


def maybe_wait(created: Deployment, timeout: float) -> Deployment:
    """With ``--wait``: until a replica is ready; a deployment kept at zero replicas has none to
    wait for until its first request, so that is said instead."""
    if created.autoscale_config.min_replicas == 0:
        output.note(
            f"deployment {created.id} has min_replicas 0: its first request starts a replica "
            "(not waiting)"
        )
        return created
    return wait_for_deployment(created.id, timeout)


@deployment_app.command("create")
def create_deployment(
    deployment: DeploymentId,
    model: Annotated[
        str, typer.Option("--model", "-m", help="The model to serve.", show_default=False)
    ],
    version: Annotated[
        str, typer.Option(help="A version id, or latest to follow new versions.")
    ] = "latest",
    nodepools: Nodepools = None,
    min_replicas: MinReplicas = None,
    max_replicas: MaxReplicas = None,
    target_concurrency: TargetConcurrency = None,
    scheduling: Scheduling = None,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
    sets: Sets = None,
    wait: WaitReady = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Deploy a model on nodepools (the shared cluster's default when none is named)."""
    fields = merge(
        {
            "model": model,
            "model_version": version,
            "description": description,
            **given(nodepools=parse_nodepools(nodepools), scheduling_choice=scheduling),
            **(
                autoscale(
                    min_replicas=min_replicas,
                    max_replicas=max_replicas,
                    target_concurrency=target_concurrency,
                )
                or {}
            ),
        },
        parse_sets(sets),
    )
    created = sdk().deployments.create(deployment, **fields)
    if wait:
        created = maybe_wait(created, timeout)
    done(created, f"deployment {created.id} created", fmt)


@deployment_app.command("ls")
def list_deployments(
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Only those using this cluster.")
    ] = None,
    nodepool: Annotated[
        str | None, typer.Option(help="Only those using a nodepool of this id.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Only those serving this model.")
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """List your deployments, with how many replicas are ready."""
    found = sdk().deployments.list(compute_cluster=cluster, nodepool=nodepool, model=model)
    output.show_list(found, DEPLOYMENT_COLUMNS, fmt)


@deployment_app.command("get")
def get_deployment(deployment: DeploymentId, fmt: Output = Format.TABLE) -> None:
    """Show a deployment: its model version, nodepools, autoscaling and replicas."""
    output.show_one(
        sdk().deployments.get(deployment),
        fmt,
        values={
            "nodepools": lambda refs: ", ".join(
                f"{r.compute_cluster}/{r.nodepool} (priority {r.priority})" for r in refs
            )
        },
    )


@deployment_app.command("update")
def update_deployment(
    deployment: DeploymentId,
    version: Annotated[str | None, typer.Option(help="A version id, or latest.")] = None,
    nodepools: Nodepools = None,
    min_replicas: MinReplicas = None,
    max_replicas: MaxReplicas = None,
    target_concurrency: TargetConcurrency = None,
    scheduling: Scheduling = None,
    enabled: Annotated[
        bool | None,
        typer.Option(
            "--enable/--disable",
            help="Serve, or stop every replica and refuse requests.",
            show_default=False,
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    sets: Sets = None,
    wait: WaitReady = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Change a deployment: version, nodepools, autoscaling, or enable/disable it."""
    status = None if enabled is None else "enabled" if enabled else "disabled"
    changes = merge(
        {
            **given(
                model_version=version,
                nodepools=parse_nodepools(nodepools),
                scheduling_choice=scheduling,
                status=status,
                description=description,
            ),
            **(
                autoscale(
                    min_replicas=min_replicas,
                    max_replicas=max_replicas,
                    target_concurrency=target_concurrency,
                )
                or {}
            ),
        },
        parse_sets(sets),
    )
    nothing_to_change(changes)
    updated = sdk().deployments.update(deployment, **changes)
    if wait:
        updated = maybe_wait(updated, timeout)
    done(updated, f"deployment {updated.id} updated", fmt)


@deployment_app.command("rm")
def delete_deployment(
    deployment: DeploymentId,
    yes: Yes = False,
    wait: WaitGone = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Delete a deployment: its replicas finish their requests, then stop."""
    confirm(f"Delete deployment {deployment}?", yes)
    client = sdk()
    answer = client.deployments.delete(deployment)
    if wait and answer.status == "deleting":
        with progress(f"Waiting for deployment {deployment} to be deleted…"):
            client.deployments.wait_until_deleted(deployment, timeout=timeout)
        answer = gone(deployment)
    deleted("deployment", deployment, answer, fmt)


@deployment_app.command("replicas")
def list_replicas(deployment: DeploymentId, fmt: Output = Format.TABLE) -> None:
    """List a deployment's replicas: where each runs and in what state."""
    output.show_list(sdk().deployments.replicas(deployment), REPLICA_COLUMNS, fmt)


def done(item: Deployment, message: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(message)
    else:
        output.print_data(item, fmt)


# predict and logs
def predict(
    deployment: DeploymentId,
    inputs: Annotated[
        str,
        typer.Option(
            "--input",
            "-i",
            help="The model's inputs as JSON, or @FILE with JSON in it (@- for stdin).",
            show_default=False,
        ),
    ],
    timeout: Annotated[
        float | None, typer.Option(min=0, help="Seconds to wait for the answer (default 300).")
    ] = None,
    fmt: Output = Format.JSON,
) -> None:
    """Send inputs to a deployment through the gateway and print the model's outputs.

    A deployment at zero replicas answers once one has started."""
    outputs = sdk().predict(deployment, read_json(inputs, "--input"), timeout=timeout)
    output.print_data(outputs, Format.YAML if fmt == Format.YAML else Format.JSON)


def logs(
    deployment: DeploymentId,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(help="Only lines after this time (2026-01-31T12:00:00Z) or age (10m, 2h)."),
    ] = None,
    tail: Annotated[
        int | None, typer.Option(min=1, max=10_000, help="Only the newest N lines (default 1000).")
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Print what a deployment's replicas wrote, oldest first.

    Lines show their time and replica; with -o json, one JSON object per line."""
    lines = sdk().deployments.logs(
        deployment, follow=follow, since=parse_time(since, "--since"), tail=tail
    )
    try:
        for line in lines:
            print_log_line(line, fmt)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def print_log_line(line: LogLine, fmt: Format) -> None:
    if fmt == Format.JSON:
        typer.echo(line.model_dump_json())
    elif fmt == Format.YAML:
        output.print_data([line], fmt)
    else:
        stamp = line.time.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        typer.echo(f"{stamp} {line.replica} {line.text}")


deployment_app.command("logs")(logs)
