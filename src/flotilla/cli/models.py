"""``flotilla model …`` and ``flotilla deploy``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla.cli import output
from flotilla.cli.common import (
    DEFAULT_WAIT,
    Output,
    WaitReady,
    WaitTimeout,
    Yes,
    confirm,
    sdk,
)
from flotilla.cli.deployments import maybe_wait
from flotilla.cli.output import Column, Format
from flotilla.errors import ClusterNotFound, DeploymentNotFound, InvalidArgument, NodepoolNotFound

if TYPE_CHECKING:
    from flotilla.client import Client
    from flotilla.client.types import ComputeCluster, Deployment, Model, ModelVersion, Nodepool

model_app = typer.Typer(
    help="Models and their versions: folders with a model.yaml, uploaded as packages.",
    no_args_is_help=True,
)

MODEL_COLUMNS = (
    Column("ID", lambda m: m.id),
    Column("LATEST VERSION", lambda m: m.latest_version),
    Column("VERSIONS", lambda m: m.version_count),
    Column("DESCRIPTION", lambda m: m.description, wrap=True),
    Column("AGE", lambda m: m.created_at),
)
VERSION_COLUMNS = (
    Column("ID", lambda v: v.id),
    Column("ENTRYPOINT", lambda v: v.entrypoint),
    Column("CPU", lambda v: f"{v.resources.cpu}m"),
    Column("MEMORY", lambda v: f"{v.resources.memory // 2**20}Mi"),
    Column("ACCELERATORS", lambda v: v.resources.accelerators),
    Column("SIZE", lambda v: f"{v.size_bytes} B"),
    Column("AGE", lambda v: v.created_at),
)

ModelId = Annotated[str, typer.Argument(help="The model's id.", show_default=False)]
Folder = Annotated[
    Path,
    typer.Argument(
        help="A model folder (with model.yaml at its root), or a .tar.gz of one.",
        exists=True,
        show_default=False,
    ),
]


@model_app.command("create")
def create_model(
    model: ModelId,
    description: Annotated[str, typer.Option(help="Free text shown in lists.")] = "",
    fmt: Output = Format.TABLE,
) -> None:
    """Create an empty model (uploading a version creates it too)."""
    created = sdk().models.create(model, description=description)
    _done(created, f"model {created.id} created", fmt)


@model_app.command("ls")
def list_models(fmt: Output = Format.TABLE) -> None:
    """List your models and their latest versions."""
    output.show_list(sdk().models.list(), MODEL_COLUMNS, fmt)


@model_app.command("get")
def get_model(model: ModelId, fmt: Output = Format.TABLE) -> None:
    """Show a model."""
    output.show_one(sdk().models.get(model), fmt)


@model_app.command("update")
def update_model(
    model: ModelId,
    description: Annotated[str, typer.Option(help="New description.", show_default=False)],
    fmt: Output = Format.TABLE,
) -> None:
    """Change a model's description."""
    updated = sdk().models.update(model, description=description)
    _done(updated, f"model {updated.id} updated", fmt)


@model_app.command("rm")
def delete_model(model: ModelId, yes: Yes = False, fmt: Output = Format.TABLE) -> None:
    """Delete a model and all its versions (refused while a deployment uses it)."""
    confirm(f"Delete model {model} and all its versions?", yes)
    sdk().models.delete(model)
    if fmt == Format.TABLE:
        output.say(f"model {model} deleted")
    else:
        output.print_data({"id": model, "status": "deleted"}, fmt)


@model_app.command("upload")
def upload(
    folder: Folder,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model id (default: the id in model.yaml).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="The version's description.")] = None,
    fmt: Output = Format.TABLE,
) -> None:
    """Upload a model folder as a new version (the same files again give the same version)."""
    version = sdk().models.upload(folder, model=model, description=description)
    if fmt == Format.TABLE:
        output.say(f"model {version.model} version {version.id} uploaded ({version.digest})")
    else:
        output.print_data(version, fmt)


@model_app.command("versions")
def list_versions(model: ModelId, fmt: Output = Format.TABLE) -> None:
    """List a model's versions, newest first."""
    output.show_list(sdk().models.versions(model), VERSION_COLUMNS, fmt)


def _done(item: Model, message: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(message)
    else:
        output.print_data(item, fmt)


# deploy: the one-shot path from a folder to a running deployment
def deploy(
    folder: Folder,
    instance: Annotated[
        str,
        typer.Option(
            "--instance",
            help="Instance type to run on, e.g. local-small (see flotilla instance-types).",
            show_default=False,
        ),
    ],
    min_replicas: Annotated[int, typer.Option(min=0, help="Replicas kept running.")] = 0,
    max_replicas: Annotated[int, typer.Option(min=1, help="Most replicas at once.")] = 1,
    deployment: Annotated[
        str | None, typer.Option("--id", help="The deployment's id (default: the model's id).")
    ] = None,
    cluster: Annotated[
        str, typer.Option("--cluster", "-c", help="Cluster to use or create.")
    ] = "local",
    nodepool: Annotated[
        str | None,
        typer.Option(
            help="Nodepool to use or create (default: one with that instance type, else one named after it)."
        ),
    ] = None,
    cloud: Annotated[str, typer.Option(help="Provider of a cluster created here.")] = "local",
    region: Annotated[str, typer.Option(help="Region of a cluster created here.")] = "local",
    wait: WaitReady = False,
    timeout: WaitTimeout = DEFAULT_WAIT,
    fmt: Output = Format.TABLE,
) -> None:
    """Deploy a model folder in one go, on an instance type.

    Uploads the folder as a model version, then uses (or creates) a compute cluster, a nodepool of that instance type and a deployment of this version, as Clarifai's 'model deploy' does."""
    client = sdk()
    version = client.models.upload(folder)
    report(f"model {version.model} version {version.id} uploaded", fmt)
    found_cluster = use_cluster(client, cluster, cloud, region, fmt)
    pool = use_nodepool(client, found_cluster.id, nodepool, instance, max_replicas, fmt)
    target = use_deployment(
        client, deployment or version.model, version, pool, min_replicas, max_replicas, fmt
    )
    if wait:
        target = maybe_wait(target, timeout)
    if fmt != Format.TABLE:
        output.print_data(
            {
                "model_version": version,
                "compute_cluster": found_cluster,
                "nodepool": pool,
                "deployment": target,
            },
            fmt,
        )
    else:
        output.say(f'try it: flotilla predict {target.id} --input \'{{"text": "hello"}}\'')


def report(message: str, fmt: Format) -> None:
    if fmt == Format.TABLE:
        output.say(message)


def use_cluster(
    client: Client, cluster: str, cloud: str, region: str, fmt: Format
) -> ComputeCluster:
    try:
        found = client.compute_clusters.get(cluster)
    except ClusterNotFound:
        created = client.compute_clusters.create(cluster, cloud_provider=cloud, region=region)
        report(f"compute cluster {cluster} created ({cloud}/{region})", fmt)
        return created
    report(f"compute cluster {cluster} reused ({found.cloud_provider}/{found.region})", fmt)
    return found


def use_nodepool(
    client: Client, cluster: str, name: str | None, instance: str, max_replicas: int, fmt: Format
) -> Nodepool:
    if name is None:
        for pool in client.nodepools.list(cluster):
            if instance in pool.instance_types:
                report(f"nodepool {cluster}/{pool.id} reused", fmt)
                return pool
        name = re.sub(r"[^A-Za-z0-9_-]", "-", instance).strip("-_")[:64] or "pool"
    try:
        found = client.nodepools.get(cluster, name)
    except NodepoolNotFound:
        created = client.nodepools.create(
            cluster, name, instance_types=[instance], min_instances=0, max_instances=max_replicas
        )
        nodes = f"{max_replicas} node{'s' if max_replicas != 1 else ''}"
        report(f"nodepool {cluster}/{name} created ({instance}, up to {nodes})", fmt)
        return created
    if instance not in found.instance_types:
        raise InvalidArgument(
            f"nodepool {cluster}/{name} exists and has no {instance} nodes "
            f"({', '.join(found.instance_types)}); name another with --nodepool"
        )
    report(f"nodepool {cluster}/{name} reused", fmt)
    return found


def use_deployment(
    client: Client,
    deployment: str,
    version: ModelVersion,
    pool: Nodepool,
    min_replicas: int,
    max_replicas: int,
    fmt: Format,
) -> Deployment:
    fields: dict[str, Any] = {
        "model_version": version.id,
        "nodepools": [{"compute_cluster": pool.compute_cluster, "nodepool": pool.id}],
        "autoscale_config": {"min_replicas": min_replicas, "max_replicas": max_replicas},
    }
    try:
        client.deployments.get(deployment)
    except DeploymentNotFound:
        created = client.deployments.create(deployment, model=version.model, **fields)
        report(f"deployment {deployment} created", fmt)
        return created
    updated = client.deployments.update(deployment, **fields)
    report(f"deployment {deployment} updated to version {version.id}", fmt)
    return updated
