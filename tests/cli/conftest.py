"""Every CLI command against a live server (see ``tests/client/live.py``), through Typer's runner.

Output is made deterministic: a fixed terminal width (``COLUMNS``), no colour, and a
``FLOTILLA_HOME`` of the test's own (so no credentials file of the machine is read).
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner, Result

from flotilla.cli.main import app
from tests.client.live import User, live, user

__all__ = ["Cli", "cli", "live", "user"]

# Typer's runner turns the app into its command tree on every run, which costs more than most
# commands do; the tree does not change, so it is built once.
typer.testing._get_command = functools.cache(typer.testing._get_command)  # type: ignore[attr-defined]
GOLDEN = Path(__file__).parent / "golden"
MASKS = (
    # what changes from run to run, replaced by text of the same width (columns stay aligned)
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "YYYY-MM-DDTHH:MM:SSZ"),
    (re.compile(r"flt_[A-Za-z0-9_-]+"), "flt_SECRET"),
    (re.compile(r"\b[0-9a-f]{64}\b"), "x" * 64),
    (re.compile(r"\b[0-9a-f]{12}\b"), "VERSION-ID12"),
    (re.compile(r"\b(replica|node)-[0-9a-f]{10}\b"), "OBJECT-ID-XXXXXXXXX"),
    (re.compile(r"\b20\d\d-\d\d-\d\d\b"), "YYYY-MM-DD"),
)
AGE = re.compile(r"\b\d+[smhd]( ago\))?$")


@dataclass
class Cli:
    """``cli("cluster", "ls")`` runs ``flotilla cluster ls`` as the test's user."""

    user: User
    home: Path
    runner: CliRunner

    def env(self, **extra: str | None) -> dict[str, str | None]:
        """The user's server and token; ``NAME=None`` unsets a variable."""
        return {
            **self.user.env,
            "FLOTILLA_HOME": str(self.home),
            "COLUMNS": "120",
            "NO_COLOR": "1",
            "TERM": "dumb",
            **extra,
        }

    def __call__(self, *args: str, input: str | None = None, **env: str | None) -> Result:
        return self.runner.invoke(app, list(args), input=input, env=self.env(**env))

    def line(self, command: str, **env: str | None) -> Result:
        """``cli.line("cluster get gpu-east -o json")``: one command line, split as a shell does."""
        return self(*shlex.split(command), **env)

    def ok(self, *args: str, input: str | None = None, **env: str | None) -> str:
        """The output of a command that must succeed."""
        result = self(*args, input=input, **env)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result.stdout

    def ok_as(self, token: str, *args: str) -> str:
        return self.ok(*args, FLOTILLA_TOKEN=token)

    def ok_without_env(self, *args: str) -> str:
        """As a user who relies on ``$FLOTILLA_HOME/credentials`` alone."""
        return self.ok(*args, FLOTILLA_URL=None, FLOTILLA_TOKEN=None, FLOTILLA_GATEWAY_URL=None)


def start_follower(cli: Cli, *args: str) -> subprocess.Popen[str]:
    """``flotilla ARGS`` in a process of its own, as the test's user, output piped; a Python
    traceback of every thread goes to its stderr on SIGABRT.

    Ctrl-C works in it as in a terminal, even when the tests run where SIGINT is ignored (a
    shell's background job: its children inherit the ignoring, and Python keeps it)."""
    env = {**os.environ, **{k: v for k, v in cli.env().items() if v is not None}}
    return subprocess.Popen(
        [sys.executable, "-X", "faulthandler", "-m", "flotilla.cli.main", *args],
        env={**env, "PYTHONFAULTHANDLER": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_ctrl_c,
    )


def _default_ctrl_c() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_with_ctrl_c(process: subprocess.Popen[str]) -> None:
    """Ctrl-C, as a user stops a follower: it must exit 0 within 10 s. If it does not, the
    failure says where it hangs (its signal masks, and every thread's traceback)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        status = Path(f"/proc/{process.pid}/status").read_text().splitlines()
        masks = [line for line in status if line.startswith(("State", "Sig", "ShdPnd"))]
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(f"still running 10 s after Ctrl-C: {masks}\n{stderr}") from None
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""


@pytest.fixture
def cli(user: User, tmp_path: Path) -> Cli:
    return Cli(user=user, home=tmp_path / "home", runner=CliRunner())


def normalized(text: str) -> str:
    """Output with times, ages, secrets and version ids masked; trailing spaces dropped."""
    lines = []
    for line in text.splitlines():
        for pattern, mask in MASKS:
            line = pattern.sub(
                lambda m, mask=mask: mask.ljust(len(m.group()))[: len(m.group())], line
            )
        lines.append(AGE.sub(lambda m: "AGE" + (" ago)" if m.group(1) else ""), line.rstrip()))
    return "\n".join(lines) + "\n"


def matches_golden(name: str, text: str) -> None:
    """``text`` equals ``golden/<name>.txt`` once normalized. With FLOTILLA_UPDATE_GOLDEN=1 the
    file is written instead (read the diff before committing it)."""
    path = GOLDEN / f"{name}.txt"
    got = normalized(text)
    if os.environ.get("FLOTILLA_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(got)
    assert path.exists(), f"no {path}: run with FLOTILLA_UPDATE_GOLDEN=1 to write it"
    assert got == path.read_text(), f"the output differs from {path}:\n{got}"
