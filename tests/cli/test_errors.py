"""A failing call prints one line with its code on stderr and exits 1."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize(
    ("command", "line"),
    [
        ("cluster get nope", "Error CLUSTER_NOT_FOUND: no compute cluster 'nope'"),
        (
            "nodepool get shared/nope",
            "Error NODEPOOL_NOT_FOUND: compute cluster 'shared' has no nodepool 'nope'",
        ),
        ("cluster create shared", "Error CLUSTER_ALREADY_EXISTS: "),
        ("cluster create x --cloud aws --region mars-1", "Error UNKNOWN_REGION: "),
        ("cluster rm shared -y", "Error PERMISSION_DENIED: "),
        ("deployment create d -m nope", "Error MODEL_NOT_FOUND: "),
        ("instance-types --min-gpu-memory lots", "Error INVALID_ARGUMENT: "),
    ],
)
def test_a_failing_call_shows_its_code_on_one_line_and_exits_1(
    cli: Cli, command: str, line: str
) -> None:
    result = cli.line(command)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(line)
    assert result.stderr.count("\n") == 1


def test_an_unreachable_server_is_said_after_retries(cli: Cli) -> None:
    result = cli("cluster", "ls", FLOTILLA_URL="http://127.0.0.1:9")
    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error SERVER_UNREACHABLE: cannot reach the server at http://127.0.0.1:9"
    )
