"""docs/sdk.md runs: its ``python`` blocks run in order, as one script, against a live server
(as one user, in a folder holding the echo example as ``echo/``); what each prints must match
the ``text`` block right below it, times aside.

HTML comments set up what only controllers and agents would do: ``<!-- test: node C/P -->`` adds
a ready node to nodepool P of cluster C, ``<!-- test: replica D -->`` starts a replica of
deployment D, ``<!-- test: logs D -->`` has it print three lines. With ``FLOTILLA_UPDATE_DOCS=1``
the ``text`` blocks are rewritten from this run (read the diff before committing it).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.client.live import EXAMPLES, Live, User

DOC = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")


@dataclass
class Block:
    kind: str  # "python", or a set-up: "node", "replica", "logs"
    text: str
    output: tuple[int, int] | None = None
    """Lines of the ``text`` block below it (first, end), if there is one."""


def blocks(lines: list[str]) -> list[Block]:
    found: list[Block] = []
    number = 0
    while number < len(lines):
        line = lines[number]
        if line.startswith("<!-- test: "):
            kind, _, target = line.removeprefix("<!-- test: ").removesuffix(" -->").partition(" ")
            found.append(Block(kind, target))
        elif line.startswith("```"):
            fence = line[3:].strip()
            end = lines.index("```", number + 1)
            if fence == "python":
                found.append(Block("python", "\n".join(lines[number + 1 : end])))
            elif fence == "text" and found and found[-1].kind == "python":
                found[-1].output = (number + 1, end)
            number = end
        number += 1
    return found


def normalized(text: str) -> str:
    return TIME.sub("<time>", text)


@pytest.fixture
def bob(live: Live, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> User:
    shutil.copytree(
        EXAMPLES / "echo", tmp_path / "echo", ignore=shutil.ignore_patterns("__pycache__")
    )
    monkeypatch.chdir(tmp_path)
    user = live.new_user("bob")
    for name, value in {**user.env, "FLOTILLA_HOME": str(tmp_path / "home")}.items():
        monkeypatch.setenv(name, value)
    return user


def test_every_example_on_the_sdk_page_runs_and_prints_what_the_page_shows(
    bob: User, live: Live
) -> None:
    lines = DOC.read_text().splitlines()
    update = os.environ.get("FLOTILLA_UPDATE_DOCS") == "1"
    script: dict[str, object] = {"__name__": "sdk_docs"}
    rewrites: list[tuple[int, int, list[str]]] = []
    for block in blocks(lines):
        if block.kind == "node":
            cluster, _, pool = block.text.partition("/")
            live.add_ready_node(bob.id, cluster, pool)
        elif block.kind == "replica":
            live.add_stand_in(bob.id, block.text)
        elif block.kind == "logs":
            replica = live.run(_first_replica(live, bob, block.text))
            live.write_logs(
                replica,
                (T0, "loading"),
                (T0 + timedelta(seconds=1), "ready on http://127.0.0.1:40001"),
                (T0 + timedelta(seconds=2), "served 1 request"),
            )
        else:
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(block.text, str(DOC), "exec"), script)  # the page's own examples
            if block.output is None:
                continue
            first, end = block.output
            if update:
                rewrites.append((first, end, printed.getvalue().rstrip("\n").split("\n")))
            else:
                shown = "\n".join(lines[first:end]) + "\n"
                assert normalized(printed.getvalue()) == normalized(shown), block.text
    if update:
        for first, end, printed_lines in reversed(rewrites):
            lines[first:end] = printed_lines
        DOC.write_text("\n".join(lines) + "\n")
    script["client"].close()  # type: ignore[attr-defined]


async def _first_replica(live: Live, user: User, deployment: str) -> str:
    import flotilla

    async with flotilla.AsyncClient(live.url, user.token) as client:
        async for replica in client.deployments.replicas(deployment):
            return replica.id
    raise AssertionError(f"{deployment} has no replica")
