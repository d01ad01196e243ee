"""``flotilla apply -f`` and ``flotilla delete -f``, with Flotilla's and Clarifai's files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.client.live import EXAMPLES, model_folder

CLARIFAI = Path("/work/shared/examples/clarifai")
STACK = EXAMPLES / "stack.yaml"


@pytest.fixture
def echo(cli: Cli) -> Cli:
    cli.ok("model", "upload", str(EXAMPLES / "echo"))
    return cli


def test_apply_creates_then_leaves_unchanged(echo: Cli) -> None:
    assert echo.ok("apply", "-f", str(STACK)) == (
        "compute_cluster/local created\nnodepool/local/cpu created\ndeployment/echo-local created\n"
    )
    assert echo.ok("apply", "-f", str(STACK)).split("\n")[:3] == [
        "compute_cluster/local unchanged",
        "nodepool/local/cpu unchanged",
        "deployment/echo-local unchanged",
    ]


def test_a_dry_run_says_what_would_change_and_changes_nothing(echo: Cli) -> None:
    out = echo.ok("apply", "-f", str(STACK), "--dry-run")
    assert out.splitlines()[0] == "compute_cluster/local created (dry run: nothing was changed)"
    assert echo("cluster", "get", "local").exit_code == 1


def test_clarifai_files_apply_from_a_folder_or_one_by_one(cli: Cli, tmp_path: Path) -> None:
    cli.ok("model", "upload", str(model_folder(tmp_path, "detector")))
    answer = json.loads(cli.ok("apply", "-f", str(CLARIFAI), "-o", "json"))
    assert [(r["kind"], r["action"]) for r in answer["results"]] == [
        ("compute_cluster", "created"),
        ("nodepool", "created"),
        ("deployment", "created"),
    ]
    files = [str(CLARIFAI / f"{kind}.yaml") for kind in ("deployment", "nodepool")]
    again = cli.ok("apply", "-f", files[0], "-f", files[1])
    assert again == "nodepool/gpu-east/a10-pool unchanged\ndeployment/detector-prod unchanged\n"


def test_apply_reads_standard_input(echo: Cli) -> None:
    text = "compute_cluster: {id: piped, cloud_provider: local, region: local}\n"
    assert echo.ok("apply", "-f", "-", input=text) == "compute_cluster/piped created\n"


def test_a_bad_document_applies_nothing_and_says_which(echo: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(STACK.read_text().replace("max_instances: 3", "max_instances: -1"))
    refused = echo("apply", "-f", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error INVALID_ARGUMENT: document 2 (nodepool 'cpu')")
    assert echo("cluster", "get", "local").exit_code == 1


def test_delete_removes_deployments_then_nodepools_then_clusters(echo: Cli) -> None:
    echo.ok("apply", "-f", str(STACK))
    gone = echo.ok("delete", "-f", str(STACK), "--yes", "--wait", "--timeout", "10")
    assert gone == (
        "deployment/echo-local deleted\n"
        "nodepool/local/cpu deleted\n"
        "compute_cluster/local deleted\n"
        "all gone\n"
    )
    assert echo.ok("delete", "-f", str(STACK), "-y") == (
        "deployment/echo-local not found\n"
        "nodepool/local/cpu not found\n"
        "compute_cluster/local not found\n"
    )


def test_delete_asks_first_naming_what_goes(echo: Cli) -> None:
    echo.ok("apply", "-f", str(STACK))
    refused = echo("delete", "-f", str(STACK), input="n\n")
    assert refused.exit_code == 1
    assert (
        "Delete deployment/echo-local, nodepool/local/cpu, compute_cluster/local? [y/N]"
        in refused.stderr
    )
    assert echo("cluster", "get", "local").exit_code == 0
