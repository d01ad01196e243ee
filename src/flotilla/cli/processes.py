"""Commands that run Flotilla's long-lived processes: ``agent`` (and, with the inference issue,
``gateway`` and ``up``)."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
from pathlib import Path
from typing import Annotated

import typer

GATEWAY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}")
"""What the server accepts as a gateway name in traffic reports."""

NodeToken = Annotated[
    str | None,
    typer.Option(
        "--node-token", envvar="FLOTILLA_NODE_TOKEN", help="The node's token (from its launch)."
    ),
]


def agent(
    server: Annotated[
        str | None, typer.Option(help="Server URL (nodes Flotilla launched).")
    ] = None,
    node_id: Annotated[
        str | None, typer.Option(help="This node's id (nodes Flotilla launched).")
    ] = None,
    node_token: NodeToken = None,
    join: Annotated[
        str | None, typer.Option("--join", help="Server URL to join (a machine you bring).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="FLOTILLA_TOKEN", help="Personal Access Token, with --join."),
    ] = None,
    cluster: Annotated[
        str | None, typer.Option(help="Self-managed cluster to join, with --join.")
    ] = None,
    nodepool: Annotated[str | None, typer.Option(help="Its nodepool, with --join.")] = None,
    home: Annotated[
        Path, typer.Option(help="Where packages, environments and logs are kept.")
    ] = Path("~/.flotilla/agent"),
    cpu: Annotated[
        int | None, typer.Option(help="Millicores replicas may use (default: this machine's).")
    ] = None,
    memory: Annotated[
        int | None, typer.Option(help="Bytes replicas may use (default: this machine's).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address replicas listen on.")] = "127.0.0.1",
    advertise: Annotated[
        str | None, typer.Option(help="Address the gateway reaches replicas at (default: --host).")
    ] = None,
) -> None:
    """Run the node agent: it connects out to the server, runs the replicas it is told to, and
    reports how they are. Machines you already have join with --join URL --token PAT --cluster C
    --nodepool N; nodes Flotilla launches are started with --server, --node-id and a node token."""
    from flotilla.agent.client import ServerClient
    from flotilla.agent.client import join as join_server
    from flotilla.agent.main import Agent, machine_capacity

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)

    folder = home.expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    capacity = machine_capacity()
    if cpu is not None:
        capacity["cpu"] = cpu
    if memory is not None:
        capacity["memory"] = memory
    if join:
        if not (token and cluster and nodepool):
            raise typer.BadParameter("--join needs --token, --cluster and --nodepool")
        saved = folder / "joined.json"
        if saved.exists():
            identity = json.loads(saved.read_text())
        else:
            identity = asyncio.run(
                join_server(join, token, cluster, nodepool, capacity, socket.gethostname())
            )
            identity["server"] = join
            saved.write_text(json.dumps(identity))
            saved.chmod(0o600)
        server, node_id, node_token = (
            identity["server"],
            identity["node_id"],
            identity["node_token"],
        )
    if not (server and node_id and node_token):
        raise typer.BadParameter(
            "give --server, --node-id and --node-token, or --join with a token"
        )

    async def run() -> None:
        agent_ = Agent(
            ServerClient(server, node_id, node_token),
            folder,
            capacity=capacity,
            host=host,
            advertise=advertise,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, agent_.stop.set)
        await agent_.run()

    asyncio.run(run())


def up(
    home: Annotated[
        Path | None,
        typer.Option("--home", envvar="FLOTILLA_HOME", help="Data folder [~/.flotilla]."),
    ] = None,
    port: Annotated[int, typer.Option(help="API and console port.")] = 8700,
    gateway_port: Annotated[int, typer.Option(help="Gateway (predict) port.")] = 8701,
    example: Annotated[bool, typer.Option(help="Deploy the echo example model.")] = True,
) -> None:
    """Start everything on this machine: SQLite, server and controllers, local nodes, gateway, the
    shared cluster and an example model; print the URLs and a token. Ctrl-C stops it all."""
    from flotilla.cli.up import run_up
    from flotilla.settings import Settings

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    values: dict[str, object] = {
        "port": port,
        "gateway_port": gateway_port,
        "providers": ["local"],
        "shared_cluster_provider": "local",
        "shared_cluster_region": "local",
        "stop_nodes_on_exit": True,
        "reconcile_interval_seconds": 1.0,
    }
    if home is not None:
        values["home"] = home
    asyncio.run(run_up(Settings.model_validate(values), gateway_port, example))


def gateway(
    port: Annotated[
        int, typer.Option(envvar="FLOTILLA_GATEWAY_PORT", help="Port to listen on.")
    ] = 8701,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    server: Annotated[
        str | None,
        typer.Option(
            help="Server URL (default: the url in $FLOTILLA_HOME/credentials, else "
            "http://127.0.0.1:8700)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            envvar="FLOTILLA_TOKEN",
            help="An admin-scope PAT (default: the token in $FLOTILLA_HOME/credentials).",
        ),
    ] = None,
    queue_size: Annotated[
        int, typer.Option(min=0, help="Requests held per deployment while it has no replica.")
    ] = 256,
    hold_timeout: Annotated[
        float, typer.Option(min=0, help="Seconds a held request waits for a replica.")
    ] = 60.0,
    name: Annotated[
        str | None,
        typer.Option(help="Name in traffic reports, one per gateway (default: gw-HOST-PORT)."),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the gateway: POST /v1/deployments/{id}/predict to ready replicas, holding requests
    while a deployment scales from zero; /metrics for Prometheus."""
    from flotilla.gateway.app import GatewayOptions
    from flotilla.gateway.main import MissingToken, credentials, default_name, run

    try:
        url, secret = credentials(server, token)
    except MissingToken as error:
        raise typer.BadParameter(str(error)) from None
    if name is not None and not GATEWAY_NAME.fullmatch(name):
        raise typer.BadParameter(
            "--name: 1–128 letters, digits, '.', ':', '_' or '-', starting with a letter or digit"
        )
    options = GatewayOptions(
        server=url,
        token=secret,
        name=name or default_name(port),
        host=host,
        port=port,
        queue_size=queue_size,
        hold_timeout=hold_timeout,
    )
    run(options, log_level)
