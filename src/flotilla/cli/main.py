"""``flotilla``: run Flotilla's processes, and use it — clusters, nodepools, models, deployments,
predictions, logs, events, usage — through the SDK.

The process commands (``server``, ``up``, ``gateway``, ``agent``, ``db``) are defined here and in
``processes``; the API commands live one module per subject (``clusters``, ``deployments``,
``models``, ``accounts``, ``documents``, ``observe``), their shared options in ``common`` and
their printing in ``output``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla import __version__
from flotilla.cli import accounts, clusters, deployments, documents, models, observe, processes
from flotilla.cli.common import CONNECTION, Connection, FlotillaGroup

if TYPE_CHECKING:
    from flotilla.services.bootstrap import Bootstrapped
    from flotilla.settings import Settings

RUN = "Run Flotilla"
CONNECT = "Connect"
OBJECTS = "Manage objects"
USE = "Deploy and observe"

app = typer.Typer(
    name="flotilla",
    help="Flotilla: self-hosted compute orchestration for machine-learning models.",
    no_args_is_help=True,
    add_completion=True,
    cls=FlotillaGroup,
)
db_app = typer.Typer(help="The database: schema upgrades.", no_args_is_help=True)
app.add_typer(db_app, name="db", rich_help_panel=RUN)


@app.callback()
def connect(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Server URL (default: FLOTILLA_URL, else $FLOTILLA_HOME/credentials).",
            metavar="URL",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            help="Personal Access Token (default: FLOTILLA_TOKEN, else $FLOTILLA_HOME/credentials).",
            metavar="TOKEN",
        ),
    ] = None,
    gateway_url: Annotated[
        str | None,
        typer.Option(
            "--gateway-url",
            help="Where predictions go (default: FLOTILLA_GATEWAY_URL, else the server's host, port 8701).",
            metavar="URL",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--request-timeout", min=0.1, help="Seconds any one API call may take.")
    ] = 30.0,
) -> None:
    """Flotilla: self-hosted compute orchestration for machine-learning models.

    Exit codes: 0 done, 1 an error (printed with its code), 2 a wrong command line."""
    connection = Connection(url=url, token=token, gateway_url=gateway_url, timeout=timeout)
    CONNECTION.set(connection)
    ctx.call_on_close(connection.close)


Home = Annotated[
    Path | None,
    typer.Option(
        "--home", envvar="FLOTILLA_HOME", help="Folder for data and credentials [~/.flotilla]."
    ),
]


def _settings(home: Path | None, **overrides: object) -> Settings:
    from flotilla.settings import Settings

    values: dict[str, Any] = {k: v for k, v in overrides.items() if v is not None}
    if home is not None:
        values["home"] = home
    return Settings.model_validate(values)


@app.command(rich_help_panel=RUN)
def version() -> None:
    """Print Flotilla's version."""
    typer.echo(__version__)


@app.command(rich_help_panel=RUN)
def server(
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [8700].")] = None,
    home: Home = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Start the API server (and the console). The first start prints the admin token."""
    import uvicorn

    from flotilla.api.app import create_app
    from flotilla.services.context import Context
    from flotilla.store.db import Database

    settings = _settings(home, host=host, port=port)
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    ctx = Context(db=Database(settings.sqlalchemy_url), settings=settings)
    app_ = create_app(ctx, on_start=lambda done: _print_start(settings, done))
    uvicorn.run(
        app_,
        host=settings.host,
        port=settings.port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=3,  # agents' long polls would otherwise hold the shutdown
    )


def _print_start(settings: Settings, done: Bootstrapped) -> None:
    typer.echo(f"Flotilla {__version__} API at {settings.url}/v1  (docs: {settings.url}/docs)")
    typer.echo(f"Database: {settings.sqlalchemy_url.split('@')[-1]}")
    if done.admin_token:
        typer.echo(
            f"Admin token (shown once; saved to {done.credentials_path}):\n  {done.admin_token}"
        )
    else:
        typer.echo(f"Your token is in {settings.credentials_path}")


app.command(rich_help_panel=RUN)(processes.up)
app.command(rich_help_panel=RUN)(processes.gateway)
app.command(rich_help_panel=RUN)(processes.agent)

app.command(rich_help_panel=CONNECT)(accounts.login)

app.add_typer(clusters.cluster_app, name="cluster", rich_help_panel=OBJECTS)
app.add_typer(clusters.nodepool_app, name="nodepool", rich_help_panel=OBJECTS)
app.add_typer(deployments.deployment_app, name="deployment", rich_help_panel=OBJECTS)
app.add_typer(models.model_app, name="model", rich_help_panel=OBJECTS)
app.add_typer(accounts.token_app, name="token", rich_help_panel=OBJECTS)
app.add_typer(accounts.user_app, name="user", rich_help_panel=OBJECTS)
app.command(rich_help_panel=OBJECTS)(documents.apply)
app.command(rich_help_panel=OBJECTS)(documents.delete)

app.command(rich_help_panel=USE)(models.deploy)
app.command(rich_help_panel=USE)(deployments.predict)
app.command(rich_help_panel=USE)(deployments.logs)
app.command(rich_help_panel=USE)(observe.events)
app.command(rich_help_panel=USE)(observe.usage)
app.command("instance-types", rich_help_panel=USE)(observe.instance_types)


@db_app.command("upgrade")
def db_upgrade(home: Home = None, revision: str = "head") -> None:
    """Bring the database schema to the newest revision (the server does this at start)."""
    from flotilla.store.db import Database
    from flotilla.store.migrate import current_revision, upgrade

    settings = _settings(home)

    async def run() -> str | None:
        db = Database(settings.sqlalchemy_url)
        try:
            await upgrade(db, revision)
            return await current_revision(db)
        finally:
            await db.dispose()

    typer.echo(f"schema at revision {asyncio.run(run())}")


if __name__ == "__main__":
    app()
