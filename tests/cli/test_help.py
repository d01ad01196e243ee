"""Every command's --help renders, for a user; a wrong command line exits 2; completion works."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer.main
from typer.testing import CliRunner

from flotilla.cli.main import app

ENV = {"COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
API_COMMANDS = {
    "cluster", "nodepool", "deployment", "model", "token", "user", "apply", "delete", "login",
    "deploy", "predict", "logs", "events", "usage", "instance-types",
}  # fmt: skip


ROOT = typer.main.get_command(app)


def command_paths() -> Iterator[list[str]]:
    def walk(command: object, path: list[str]) -> Iterator[list[str]]:
        yield path
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(ROOT, [])


ALL = [path for path in command_paths()]


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "flotilla" for p in ALL])
def test_every_help_renders(path: list[str]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], env=ENV)
    assert result.exit_code == 0, result.output
    assert "Usage: flotilla" in result.stdout


def leaf(path: list[str]) -> object:
    command = ROOT
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize(
    "path",
    [p for p in ALL if p and p[0] in API_COMMANDS],
    ids=[" ".join(p) for p in ALL if p and p[0] in API_COMMANDS],
)
def test_every_api_command_says_what_it_does_in_one_line_and_explains_its_options(
    path: list[str],
) -> None:
    command = leaf(path)
    summary = (command.help or "").strip().split("\n\n")[0]  # type: ignore[attr-defined]
    assert summary and "\n" not in summary and summary.endswith(".")
    for param in command.params:  # type: ignore[attr-defined]
        if param.name != "help" and not getattr(param, "hidden", False):
            assert getattr(param, "help", None), f"{' '.join(path)}: {param.name} has no help"


@pytest.mark.parametrize(
    "args",
    [
        ["nosuch"],
        ["cluster", "nosuch"],
        ["cluster", "get"],
        ["cluster", "ls", "-o", "xml"],
        ["nodepool", "create", "a10", "-i", "g5.xlarge"],
        ["nodepool", "update", "gpu-east/a10"],
        ["deployment", "update", "echo", "--set", "no-equals-sign"],
        ["deployment", "create", "echo", "-m", "echo", "-n", "no-slash"],
        ["predict", "echo", "--input", "{not json"],
        ["predict", "echo", "--input", "@/no/such/file.json"],
        ["usage", "--by", "colour"],
        ["usage", "--since", "last tuesday"],
        ["model", "upload", "/no/such/folder"],
    ],
    ids=lambda args: " ".join(args),
)
def test_a_wrong_command_line_exits_2_before_calling_the_server(args: list[str]) -> None:
    env = {**ENV, "FLOTILLA_URL": "http://127.0.0.1:9", "FLOTILLA_TOKEN": "flt_x"}
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "SERVER_UNREACHABLE" not in result.stderr


def test_shell_completion_is_offered() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "bash"], env=ENV)
    assert result.exit_code == 0
    assert "_flotilla_completion" in result.stdout
