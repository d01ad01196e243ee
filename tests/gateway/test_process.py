"""``flotilla gateway`` as its own process, in front of the real replica runtime; SIGTERM lets
the requests in flight finish."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx
import pytest

from tests.gateway.conftest import Stack, closed_port, eventually

ECHO = Path(__file__).resolve().parents[2] / "examples" / "echo"


async def _start(*command: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        *command,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def _ready(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as client:
            return (await client.get(url, timeout=1)).status_code == 200
    except httpx.HTTPError:
        return False


async def test_the_gateway_process_serves_the_runtime_and_drains_on_sigterm(
    stack: Stack,
) -> None:
    await stack.deploy("echo")
    await stack.deploy("slow")
    runtime_port, gateway_port = closed_port(), closed_port()
    runtime = await _start(
        "-m", "flotilla.runtime", "--package", str(ECHO), "--entrypoint", "model.py:Echo",
        "--port", str(runtime_port),
    )  # fmt: skip
    gateway = await _start(
        "-m", "flotilla.cli.main", "gateway", "--port", str(gateway_port),
        "--server", stack.api_url, "--log-level", "warning",
        env={"FLOTILLA_TOKEN": stack.admin_token},
    )  # fmt: skip
    slow = await stack.stand_in(hold=True)
    try:
        await stack.add_replica("echo", f"http://127.0.0.1:{runtime_port}")
        await stack.add_replica("slow", slow.endpoint)
        url = f"http://127.0.0.1:{gateway_port}"
        await eventually(lambda: _ready(f"{url}/readyz"), seconds=15)
        await eventually(lambda: _ready(f"http://127.0.0.1:{runtime_port}/ready"), seconds=15)
        headers = {"Authorization": f"Bearer {stack.admin_token}"}
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
            answer = await client.post("/v1/deployments/echo/predict", json={"inputs": [1, 2]})
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"outputs": [1, 2]}
            in_flight = asyncio.create_task(
                client.post("/v1/deployments/slow/predict", json={"inputs": "late"})
            )
            await eventually(lambda: slow.in_flight == 1)
            gateway.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.2)  # shutting down, the answer not yet given
            assert gateway.returncode is None
            slow.release.set()
            late = await asyncio.wait_for(in_flight, 5)
        assert late.status_code == 200
        assert late.json() == {"outputs": "late"}
        assert await asyncio.wait_for(gateway.wait(), 10) == 0
    finally:
        for process in (runtime, gateway):
            if process.returncode is None:
                process.kill()
                await process.wait()
            assert process.stderr is not None
            print((await process.stderr.read()).decode(errors="replace")[-3000:])


def test_the_gateway_takes_its_server_and_token_from_the_saved_credentials(
    tmp_path: Path,
) -> None:
    from flotilla.gateway.main import MissingToken, credentials

    (tmp_path / "credentials").write_text('url = "http://10.0.0.5:8700"\ntoken = "flt_saved"\n')
    assert credentials(None, None, tmp_path) == ("http://10.0.0.5:8700", "flt_saved")
    assert credentials("http://other:1", "flt_given", tmp_path) == ("http://other:1", "flt_given")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert credentials(None, "flt_x", empty) == ("http://127.0.0.1:8700", "flt_x")
    with pytest.raises(MissingToken, match="FLOTILLA_TOKEN"):
        credentials(None, None, empty)
