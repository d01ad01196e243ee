"""``flotilla cluster …`` and ``flotilla nodepool …`` against a live server."""

from __future__ import annotations

import json

import yaml

from tests.cli.conftest import Cli
from tests.client.live import EXAMPLES, Live


def test_a_cluster_is_created_listed_shown_changed_and_removed(cli: Cli) -> None:
    created = cli.ok("cluster", "create", "gpu-east", "--cloud", "aws", "--region", "us-east-1")
    assert created == "compute cluster gpu-east created\n"
    assert [c["id"] for c in json.loads(cli.ok("cluster", "ls", "-o", "json"))] == [
        "gpu-east",
        "shared",
    ]
    shown = yaml.safe_load(cli.ok("cluster", "get", "gpu-east", "-o", "yaml"))
    assert (shown["cloud_provider"], shown["region"], shown["status"]) == (
        "aws",
        "us-east-1",
        "active",
    )
    assert cli.ok("cluster", "update", "gpu-east", "--description", "vision") == (
        "compute cluster gpu-east updated\n"
    )
    assert "description:      vision" in cli.ok("cluster", "get", "gpu-east")
    assert cli.ok("cluster", "rm", "gpu-east", "--yes") == "compute cluster gpu-east deleted\n"
    assert cli("cluster", "get", "gpu-east").exit_code == 1


def test_rm_asks_first_and_a_no_keeps_the_cluster(cli: Cli) -> None:
    cli.ok("cluster", "create", "here")
    refused = cli("cluster", "rm", "here", input="n\n")
    assert refused.exit_code == 1
    assert "Delete compute cluster here and its nodepools? [y/N]" in refused.stderr
    assert "Nothing was deleted." in refused.stderr
    assert cli.ok("cluster", "get", "here", "-o", "json")
    confirmed = cli("cluster", "rm", "here", input="y\n")
    assert confirmed.exit_code == 0
    assert confirmed.stdout.endswith("compute cluster here deleted\n")  # after the echoed y


def test_a_cluster_in_use_is_removed_with_cascade_only(cli: Cli) -> None:
    cli.ok("cluster", "create", "here")
    cli.ok("nodepool", "create", "here/cpu", "-i", "local-small")
    cli.ok("model", "upload", str(EXAMPLES / "echo"))
    cli.ok("deployment", "create", "echo", "-m", "echo", "-n", "here/cpu")
    refused = cli("cluster", "rm", "here", "-y")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error CLUSTER_HAS_DEPLOYMENTS: compute cluster 'here'")
    assert cli.ok("cluster", "rm", "here", "-y", "--cascade", "--wait", "--timeout", "10") == (
        "compute cluster here deleted\n"
    )
    assert cli("deployment", "get", "echo").exit_code == 1


def test_a_nodepool_is_created_in_its_cluster_and_listed_across_clusters(cli: Cli) -> None:
    cli.ok("cluster", "create", "gpu-east", "--cloud", "aws", "--region", "us-east-1")
    out = cli.ok(
        "nodepool", "create", "a10", "-c", "gpu-east", "-i", "g5.xlarge", "-i", "g5.2xlarge",
        "--max-instances", "4", "--spot",
    )  # fmt: skip
    assert out == "nodepool gpu-east/a10 created\n"
    pools = json.loads(cli.ok("nodepool", "ls", "-o", "json"))
    assert [(p["compute_cluster"], p["id"]) for p in pools] == [
        ("gpu-east", "a10"),
        ("shared", "default"),
    ]
    assert [
        p["id"] for p in json.loads(cli.ok("nodepool", "ls", "-c", "gpu-east", "-o", "json"))
    ] == ["a10"]
    pool = json.loads(cli.ok("nodepool", "get", "gpu-east/a10", "-o", "json"))
    assert pool["instance_types"] == ["g5.xlarge", "g5.2xlarge"]
    assert pool["capacity_types"] == ["spot", "on_demand"]


def test_a_nodepool_is_changed_by_options_or_by_set(cli: Cli) -> None:
    cli.ok("cluster", "create", "here")
    cli.ok("nodepool", "create", "here/cpu", "-i", "local-small", "--capacity-type", "on_demand")
    cli.ok("nodepool", "update", "here/cpu", "--max-instances", "3", "-i", "local-medium")
    cli.ok("nodepool", "update", "cpu", "-c", "here", "--set", "description=small nodes")
    pool = json.loads(cli.ok("nodepool", "get", "here/cpu", "-o", "json"))
    assert (pool["max_instances"], pool["instance_types"], pool["description"]) == (
        3,
        ["local-medium"],
        "small nodes",
    )
    bad = cli("nodepool", "update", "here/cpu", "--min-instances", "5")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("Error INVALID_ARGUMENT: ")
    assert cli.ok("nodepool", "rm", "here/cpu", "-y", "-o", "json")


def test_create_with_wait_shows_progress_until_the_nodepool_is_ready(cli: Cli, live: Live) -> None:
    cli.ok("cluster", "create", "here")
    live.soon(lambda: live.add_ready_node(cli.user.id, "here", "cpu"))
    done = cli(
        "nodepool", "create", "here/cpu", "-i", "local-small", "--min-instances", "1", "--wait"
    )
    assert done.exit_code == 0, done.stderr
    assert "Waiting for nodepool here/cpu to be ready" in done.stderr
    assert done.stdout == "nodepool here/cpu created\n"
    nodes = json.loads(cli.ok("nodepool", "nodes", "here/cpu", "-o", "json"))
    assert [n["state"] for n in nodes] == ["ready"]
    assert "local-small" in cli.ok("nodepool", "nodes", "here/cpu")


def test_wait_gives_up_after_its_timeout_with_exit_code_1(cli: Cli) -> None:
    cli.ok("cluster", "create", "here")
    late = cli(
        "nodepool", "create", "here/cpu", "-i", "local-small", "--min-instances", "1",
        "--wait", "--timeout", "0.3",
    )  # fmt: skip
    assert late.exit_code == 1
    assert (
        "Error WAIT_TIMED_OUT: nodepool 'here/cpu' is not ready after 0.3 s: pending" in late.stderr
    )


def test_a_nodepool_needs_its_cluster_named(cli: Cli) -> None:
    result = cli("nodepool", "get", "cpu")
    assert result.exit_code == 2
    assert "CLUSTER/cpu" in result.stderr
