"""``flotilla``: run the server, manage the database (more commands arrive with the CLI issue)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flotilla import __version__
from flotilla.cli import processes

if TYPE_CHECKING:
    from flotilla.services.bootstrap import Bootstrapped
    from flotilla.settings import Settings

app = typer.Typer(
    name="flotilla",
    help="Flotilla: self-hosted compute orchestration for machine-learning models.",
    no_args_is_help=True,
    add_completion=True,
)
db_app = typer.Typer(help="The database: schema upgrades.", no_args_is_help=True)
app.add_typer(db_app, name="db")

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


@app.command()
def version() -> None:
    """Print Flotilla's version."""
    typer.echo(__version__)


@app.command()
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


app.command()(processes.up)
app.command()(processes.gateway)
app.command()(processes.agent)


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
