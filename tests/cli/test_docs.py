"""docs/cli.md runs: every ``$ flotilla …`` line of its ``console`` blocks is run in order, as one
user, in a folder holding the echo example as ``echo/``; where the page shows what a command
prints, the output must match (times, ages, secrets and ids masked).

``yaml`` blocks whose first line is ``# file: NAME`` are written to NAME first. HTML comments set
up what only controllers and agents would do: ``<!-- test: replica D -->`` starts a replica of
deployment D, ``<!-- test: logs D -->`` has it print three lines.

With ``FLOTILLA_UPDATE_DOCS=1`` the outputs shown on the page are rewritten from this run (read
the diff before committing it).
"""

from __future__ import annotations

import os
import shlex
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import Cli, normalized
from tests.client.live import EXAMPLES, Live

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@dataclass
class Step:
    kind: str  # "run", "file", "replica", "logs"
    text: str
    start: int = 0
    """For "run": the first line of its output on the page; the output ends before ``end``."""
    end: int = 0
    expected: list[str] = field(default_factory=list)


def steps(lines: list[str]) -> list[Step]:
    found: list[Step] = []
    fence: str | None = None
    block_start = 0
    for number, line in enumerate(lines):
        if fence is None:
            if line.startswith("```"):
                fence, block_start = line[3:].strip(), number + 1
            elif line.startswith("<!-- test: "):
                kind, _, target = (
                    line.removeprefix("<!-- test: ").removesuffix(" -->").partition(" ")
                )
                found.append(Step(kind, target))
            continue
        if line.startswith("```"):
            if fence == "yaml" and lines[block_start].startswith("# file: "):
                name = lines[block_start].removeprefix("# file: ").strip()
                found.append(Step("file", name, expected=lines[block_start:number]))
            if found and found[-1].kind == "run" and found[-1].end == 0:
                found[-1].end = number
            fence = None
        elif fence == "console" and line.startswith("$ flotilla"):
            if found and found[-1].kind == "run" and found[-1].end == 0:
                found[-1].end = number
            found.append(Step("run", line.removeprefix("$ flotilla").strip(), start=number + 1))
        elif fence == "console" and found and found[-1].kind == "run" and found[-1].end == 0:
            found[-1].expected.append(line)
    return found


@pytest.fixture
def alice(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    shutil.copytree(
        EXAMPLES / "echo", tmp_path / "echo", ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.chdir(tmp_path)
    return Cli(live.new_user("alice"), tmp_path / "home", CliRunner())


def test_every_command_on_the_cli_page_runs_and_prints_what_the_page_shows(
    alice: Cli, live: Live
) -> None:
    lines = DOC.read_text().splitlines()
    update = os.environ.get("FLOTILLA_UPDATE_DOCS") == "1"
    rewrites: list[tuple[int, int, list[str]]] = []
    for step in steps(lines):
        if step.kind == "file":
            Path(step.text).write_text("\n".join(step.expected[1:]) + "\n")
        elif step.kind == "replica":
            live.add_stand_in(alice.user.id, step.text)
        elif step.kind == "logs":
            replica = alice.ok("deployment", "replicas", step.text, "-o", "json")
            replica_id = __import__("json").loads(replica)[0]["id"]
            live.write_logs(
                replica_id,
                (T0, "loading"),
                (T0 + timedelta(seconds=1), "ready on http://127.0.0.1:40001"),
                (T0 + timedelta(seconds=2), "served 1 request"),
            )
        else:
            result = alice(*shlex.split(step.text))
            shown = result.output.rstrip("\n").split("\n") if result.output else []
            if update:
                if step.expected or not step.text.endswith("-o yaml"):
                    rewrites.append((step.start, step.end, shown))
                continue
            where = f"docs/cli.md line {step.start}: flotilla {step.text}"
            if not step.expected:
                assert result.exit_code == 0, f"{where}\n{result.output}"
            else:
                expected = normalized("\n".join(step.expected))
                assert normalized(result.output) == expected, f"{where}\n{result.output}"
    if update:
        for start, end, shown in reversed(rewrites):
            lines[start:end] = shown
        DOC.write_text("\n".join(lines) + "\n")
