"""``flotilla up``: everything on one machine for a first run.

SQLite in ``$FLOTILLA_HOME``, the server with its controllers, the local provider (nodes are
agent processes here), the gateway, the shared cluster, and the echo example deployed. Ctrl-C
stops all of it — gateway, nodes, replicas — and leaves no process behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path

import typer
import uvicorn

from flotilla.credentials import read_credentials, write_credentials
from flotilla.settings import Settings

EXAMPLE = "echo"


def example_folder() -> Path:
    return Path(__file__).resolve().parent.parent / "examples" / EXAMPLE


def _archive(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


async def deploy_example(ctx: object, token: str) -> None:
    """Upload the echo example and deploy it on the shared cluster (once; later starts keep it)."""
    import tempfile

    from flotilla.domain.errors import DeploymentNotFound
    from flotilla.domain.specs import DeploymentSpec
    from flotilla.services import deployments, models, tokens
    from flotilla.services.context import Context

    assert isinstance(ctx, Context)
    async with ctx.db.read() as s:
        caller, _ = await tokens.authenticate(s, token, ctx.now())
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / "echo.tar.gz"
        archive.write_bytes(_archive(example_folder()))
        package = await models.unpack(ctx, archive, EXAMPLE)
    async with ctx.db.write() as s:
        await models.add_version(ctx, s, caller, EXAMPLE, package)
        try:
            await deployments.get_deployment(ctx, s, caller, EXAMPLE)
        except DeploymentNotFound:
            spec = DeploymentSpec.model_validate(
                {
                    "id": EXAMPLE,
                    "model": EXAMPLE,
                    "description": "the echo example: answers with its inputs",
                    "autoscale_config": {"min_replicas": 1, "max_replicas": 2},
                }
            )
            await deployments.create_deployment(ctx, s, caller, spec)


def _token(settings: Settings, gateway_port: int) -> str:
    """The admin token from the credentials file, which is brought up to date with where this
    run serves, so that the CLI and the SDK on this machine find the server and the gateway."""
    path = settings.credentials_path
    token = read_credentials(path)["token"]
    write_credentials(path, settings.url, token, _gateway_url(gateway_port))
    return token


def _gateway_url(gateway_port: int) -> str:
    return f"http://127.0.0.1:{gateway_port}"


def _banner(settings: Settings, token: str, gateway_port: int) -> str:
    gateway = _gateway_url(gateway_port)
    return (
        "\nFlotilla is up.\n"
        f"  Console:  {settings.url}/\n"
        f"  API:      {settings.url}/v1   (docs: {settings.url}/docs)\n"
        f"  Gateway:  {gateway}\n"
        f"  Token:    {token}   (also in {settings.credentials_path})\n\n"
        "Try the example model:\n"
        f"  curl -s -X POST {gateway}/v1/deployments/{EXAMPLE}/predict \\\n"
        f"       -H 'Authorization: Bearer {token}' -d '{{\"inputs\": \"hello\"}}'\n\n"
        "Ctrl-C stops everything.\n"
    )


async def run_up(settings: Settings, gateway_port: int, deploy: bool) -> None:
    from flotilla.api.app import create_app
    from flotilla.services.context import Context
    from flotilla.store.db import Database

    ctx = Context(db=Database(settings.sqlalchemy_url), settings=settings)
    started = asyncio.Event()
    app = create_app(ctx, on_start=lambda _: started.set())
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=3,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve())
    await started.wait()
    while not server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
        await asyncio.sleep(0.05)
    if serving.done():
        await serving  # it failed to start (the port is taken, …): show why
        return
    token = _token(settings, gateway_port)
    command = [sys.executable, "-m", "flotilla.cli.main", "gateway", "--port", str(gateway_port)]
    gateway = await asyncio.to_thread(
        subprocess.Popen,
        [*command, "--server", settings.url],
        env={**os.environ, "FLOTILLA_TOKEN": token},
        start_new_session=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        if deploy:
            await deploy_example(ctx, token)
        typer.echo(_banner(settings, token, gateway_port))
        waiting = asyncio.create_task(stop.wait())
        await asyncio.wait([waiting, serving], return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
    finally:
        typer.echo("Stopping: gateway, nodes and replicas …")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(gateway.pid, signal.SIGTERM)
        await asyncio.to_thread(_wait_or_kill, gateway)
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        typer.echo("Stopped.")


class _Server(uvicorn.Server):
    """Signals are ``up``'s to handle (it stops the gateway and nodes first), not uvicorn's."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _wait_or_kill(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
