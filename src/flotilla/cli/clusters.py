"""``flotilla cluster …`` and ``flotilla nodepool …``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla.cli import output
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
    progress,
    sdk,
    split_nodepool,
)
from flotilla.cli.output import Column, Format

if TYPE_CHECKING:
    from flotilla.client.types import ComputeCluster, DeleteAccepted, Node, Nodepool

cluster_app = typer.Typer(
    help="Compute clusters: named places to run models, on a provider and region.",
    no_args_is_help=True,
)
nodepool_app = typer.Typer(
    help="Nodepools: groups of similar nodes inside a cluster, between a minimum and maximum.",
    no_args_is_help=True,
)

CLUSTER_COLUMNS = (
    Column("ID", lambda c: c.id),
    Column("TYPE", lambda c: c.cluster_type),
    Column("PROVIDER", lambda c: c.cloud_provider),
    Column("REGION", lambda c: c.region),
    Column("STATUS", lambda c: c.status),
    Column("NODEPOOLS", lambda c: c.nodepool_count),
    Column("AGE", lambda c: c.created_at),
)
NODEPOOL_COLUMNS = (
    Column("CLUSTER", lambda p: p.compute_cluster),
    Column("ID", lambda p: p.id),
    Column("INSTANCE TYPES", lambda p: p.instance_types),
    Column("CAPACITY", lambda p: p.capacity_types),
    Column("MIN", lambda p: p.min_instances),
    Column("MAX", lambda p: p.max_instances),
    Column("NODES", lambda p: f"{p.nodes.ready}/{p.nodes.total}"),
    Column("STATUS", lambda p: p.status),
    Column("AGE", lambda p: p.created_at),
)
NODE_COLUMNS = (
    Column("ID", lambda n: n.id),
    Column("INSTANCE TYPE", lambda n: n.instance_type),
    Column("CAPACITY", lambda n: n.capacity_type),
    Column("STATE", lambda n: n.state),
    Column("$/HOUR", lambda n: n.price_per_hour),
    Column("AGE", lambda n: n.created_at),
)

ClusterId = Annotated[str, typer.Argument(help="The compute cluster's id.", show_default=False)]
NodepoolName = Annotated[
    str,
    typer.Argument(help="CLUSTER/NODEPOOL, or NODEPOOL with --cluster.", show_default=False),
]
InCluster = Annotated[
    str | None, typer.Option("--cluster", "-c", help="The cluster the nodepool is in.")
]
Cascade = Annotated[
    bool, typer.Option("--cascade", help="Also delete the deployments that use it.")
]


def deleted(kind: str, name: str, answer: DeleteAccepted, fmt: Format) -> None:
    if fmt != Format.TABLE:
        output.print_data(answer, fmt)
    elif answer.status == "deleting":
        output.say(f"{kind} {name} deleting (what runs there is stopping)")
    else:
        output.say(f"{kind} {name} deleted")


# clusters
@cluster_app.command("create")
def create_cluster(
    cluster: ClusterId,
    cloud: Annotated[str, typer.Option(help="Cloud provider: local, sim, aws, gcp…")] = "local",
    region: Annotated[str, typer.Option(help="Region of the provider.")] = "local",
    cluster_type: Annotated[
        str, typer.Option("--type", help="dedicated, or self_managed (machines you bring).")
    ] = "dedicated",
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
    token_id: Annotated[
        str | None,
        typer.Option(help="The token the cluster acts with (default: the one you call with)."),
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Create a compute cluster."""
    fields: dict[str, Any] = {
        "cloud_provider": cloud,
        "region": region,
        "cluster_type": cluster_type,
        "description": description,
        **given(token_id=token_id),
    }
    created = sdk().compute_clusters.create(cluster, **fields)
    _done(created, f"compute cluster {created.id} created", fmt)


@cluster_app.command("ls")
def list_clusters(fmt: Output = Format.TABLE) -> None:
    """List your compute clusters, and the shared one."""
    output.show_list(sdk().compute_clusters.list(), CLUSTER_COLUMNS, fmt)


@cluster_app.command("get")
def get_cluster(cluster: ClusterId, fmt: Output = Format.TABLE) -> None:
    """Show a compute cluster."""
    output.show_one(sdk().compute_clusters.get(cluster), fmt)


@cluster_app.command("update")
def update_cluster(
    cluster: ClusterId,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    token_id: Annotated[
        str | None,
        typer.Option(help="Act with this token from now on (restores a stopped cluster)."),
    ] = None,
    sets: Sets = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Change a compute cluster's description or token."""
    changes = merge(given(description=description, token_id=token_id), parse_sets(sets))
    nothing_to_change(changes)
    updated = sdk().compute_clusters.update(cluster, **changes)
    _done(updated, f"compute cluster {updated.id} updated", fmt)


@cluster_app.command("rm")
def delete_cluster(
    cluster: ClusterId,
    cascade: Cascade = False,
    yes: Yes = False,
    wait: WaitGone = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Delete a compute cluster: its nodepools' nodes are drained and terminated first."""
    confirm(f"Delete compute cluster {cluster} and its nodepools?", yes)
    client = sdk()
    answer = client.compute_clusters.delete(cluster, cascade=cascade)
    if wait and answer.status == "deleting":
        with progress(f"Waiting for compute cluster {cluster} to be deleted…"):
            client.compute_clusters.wait_until_deleted(cluster, timeout=timeout)
        answer = gone(cluster)
    deleted("compute cluster", cluster, answer, fmt)


# nodepools
@nodepool_app.command("create")
def create_nodepool(
    nodepool: NodepoolName,
    instance_types: Annotated[
        list[str],
        typer.Option(
            "--instance-type",
            "-i",
            metavar="TYPE",
            help="An instance type it may launch, in order of preference (repeatable).",
            show_default=False,
        ),
    ],
    cluster: InCluster = None,
    min_instances: Annotated[int, typer.Option(min=0, help="Nodes kept running.")] = 0,
    max_instances: Annotated[int, typer.Option(min=0, help="Most nodes at once.")] = 1,
    capacity_types: Annotated[
        list[str] | None,
        typer.Option(
            "--capacity-type",
            metavar="CAPACITY",
            help="spot or on_demand, in order of preference (repeatable; default on_demand).",
            show_default=False,
        ),
    ] = None,
    spot: Annotated[
        bool, typer.Option("--spot", help="Spot first, on-demand when spot is short.")
    ] = False,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
    wait: WaitReady = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Create a nodepool in a cluster."""
    cluster_id, pool_id = split_nodepool(nodepool, cluster)
    capacity = ["spot", "on_demand"] if spot else capacity_types or ["on_demand"]
    client = sdk()
    created = client.nodepools.create(
        cluster_id,
        pool_id,
        instance_types=instance_types,
        min_instances=min_instances,
        max_instances=max_instances,
        capacity_types=capacity,
        description=description,
    )
    if wait:
        created = wait_for_nodepool(cluster_id, pool_id, timeout)
    _done(created, f"nodepool {cluster_id}/{pool_id} created", fmt)


def gone(name: str) -> DeleteAccepted:
    from flotilla.client.types import DeleteAccepted

    return DeleteAccepted(id=name, status="deleted")


def wait_for_nodepool(cluster: str, nodepool: str, timeout: float) -> Nodepool:
    from flotilla.client import waiting

    with progress(f"Waiting for nodepool {cluster}/{nodepool} to be ready…") as update:
        return sdk().nodepools.wait_until_ready(
            cluster,
            nodepool,
            timeout=timeout,
            on_update=lambda pool: update(waiting.describe_nodepool(pool)),
        )


@nodepool_app.command("ls")
def list_nodepools(
    cluster: Annotated[
        str | None, typer.Option("--cluster", "-c", help="Only this cluster's (default: all).")
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """List nodepools, of one cluster or of every cluster you see."""
    client = sdk()
    clusters = [cluster] if cluster else [c.id for c in client.compute_clusters.list()]
    pools = [pool for name in clusters for pool in client.nodepools.list(name)]
    output.show_list(pools, NODEPOOL_COLUMNS, fmt)


@nodepool_app.command("get")
def get_nodepool(
    nodepool: NodepoolName, cluster: InCluster = None, fmt: Output = Format.TABLE
) -> None:
    """Show a nodepool, with how many of its nodes are ready."""
    output.show_one(sdk().nodepools.get(*split_nodepool(nodepool, cluster)), fmt)


@nodepool_app.command("update")
def update_nodepool(
    nodepool: NodepoolName,
    cluster: InCluster = None,
    min_instances: Annotated[int | None, typer.Option(min=0, help="Nodes kept running.")] = None,
    max_instances: Annotated[int | None, typer.Option(min=0, help="Most nodes at once.")] = None,
    instance_types: Annotated[
        list[str] | None,
        typer.Option(
            "--instance-type",
            "-i",
            help="Replace the instance types (repeatable).",
            show_default=False,
        ),
    ] = None,
    capacity_types: Annotated[
        list[str] | None,
        typer.Option(
            "--capacity-type", help="Replace the capacity types (repeatable).", show_default=False
        ),
    ] = None,
    description: Annotated[str | None, typer.Option(help="New description.")] = None,
    sets: Sets = None,
    wait: WaitReady = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Change a nodepool: its size, instance types or capacity types."""
    cluster_id, pool_id = split_nodepool(nodepool, cluster)
    changes = merge(
        given(
            min_instances=min_instances,
            max_instances=max_instances,
            instance_types=instance_types or None,
            capacity_types=capacity_types or None,
            description=description,
        ),
        parse_sets(sets),
    )
    nothing_to_change(changes)
    updated = sdk().nodepools.update(cluster_id, pool_id, **changes)
    if wait:
        updated = wait_for_nodepool(cluster_id, pool_id, timeout)
    _done(updated, f"nodepool {cluster_id}/{pool_id} updated", fmt)


@nodepool_app.command("rm")
def delete_nodepool(
    nodepool: NodepoolName,
    cluster: InCluster = None,
    cascade: Cascade = False,
    yes: Yes = False,
    wait: WaitGone = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Delete a nodepool: what runs there is stopped and its nodes terminated first."""
    cluster_id, pool_id = split_nodepool(nodepool, cluster)
    confirm(f"Delete nodepool {cluster_id}/{pool_id}?", yes)
    client = sdk()
    answer = client.nodepools.delete(cluster_id, pool_id, cascade=cascade)
    if wait and answer.status == "deleting":
        with progress(f"Waiting for nodepool {cluster_id}/{pool_id} to be deleted…"):
            client.nodepools.wait_until_deleted(cluster_id, pool_id, timeout=timeout)
        answer = gone(pool_id)
    deleted("nodepool", f"{cluster_id}/{pool_id}", answer, fmt)


@nodepool_app.command("nodes")
def list_nodes(
    nodepool: NodepoolName,
    cluster: InCluster = None,
    state: Annotated[
        str | None, typer.Option(help="Only nodes in this state: ready, launching, terminated…")
    ] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """List a nodepool's nodes, newest first (terminated ones too)."""
    nodes: list[Node] = list(sdk().nodepools.nodes(*split_nodepool(nodepool, cluster), state=state))
    output.show_list(nodes, NODE_COLUMNS, fmt)


def _done(item: ComputeCluster | Nodepool, message: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(message)
    else:
        output.print_data(item, fmt)
