"""`flotilla up`: everything on one machine, and Ctrl-C takes all of it down."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.e2e.conftest import free_port, processes_under, wait_for


def test_up_serves_the_example_and_ctrl_c_leaves_no_process_behind(tmp_path: Path) -> None:
    home = tmp_path / "home"
    port, gateway_port = free_port(), free_port()
    out = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flotilla.cli.main",
            "up",
            "--home",
            str(home),
            "--port",
            str(port),
            "--gateway-port",
            str(gateway_port),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    try:
        banner = wait_for(
            lambda: (
                "Ctrl-C stops everything" in (text := (tmp_path / "up.log").read_text()) and text
            ),
            timeout=60,
        )
        token = re.search(r"Token:\s+(flt_\S+)", banner)
        assert token is not None, banner
        assert f"http://127.0.0.1:{gateway_port}" in banner

        def answer() -> httpx.Response | None:
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{gateway_port}/v1/deployments/echo/predict",
                    json={"inputs": "hello"},
                    headers={"Authorization": f"Bearer {token.group(1)}"},
                    timeout=60,
                )
            except httpx.HTTPError:
                return None
            return response if response.status_code == 200 else None

        response = wait_for(answer, timeout=90, every=0.5)
        assert response.json() == {"outputs": "hello"}
        assert len(processes_under(home)) >= 3  # up, its gateway, a node agent, a replica
        # The CLI on this machine finds the server, the gateway and the token by itself.
        predicted = subprocess.run(
            [sys.executable, "-m", "flotilla.cli.main", "predict", "echo", "--input", '"hi"'],
            env={**os.environ, "FLOTILLA_HOME": str(home)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert predicted.returncode == 0, predicted.stderr
        assert '"hi"' in predicted.stdout
    finally:
        up.send_signal(signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            up.kill()
        out.close()
    assert up.returncode == 0, (tmp_path / "up.log").read_text()
    wait_for(lambda: not processes_under(home), timeout=30)
    for listening in (port, gateway_port):  # the server and its gateway are gone too
        try:
            httpx.get(f"http://127.0.0.1:{listening}/healthz", timeout=2)
        except httpx.ConnectError:
            continue
        raise AssertionError(f"something still answers on port {listening}")
