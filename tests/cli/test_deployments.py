"""``flotilla deployment …``, ``flotilla predict`` and ``flotilla logs`` against a live server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.cli.conftest import Cli, start_follower, stop_with_ctrl_c
from tests.client.live import EXAMPLES, Live

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def echo(cli: Cli) -> Cli:
    cli.ok("model", "upload", str(EXAMPLES / "echo"))
    return cli


def test_a_deployment_is_created_listed_shown_changed_and_removed(echo: Cli) -> None:
    assert echo.ok("deployment", "create", "web", "-m", "echo", "--max-replicas", "3") == (
        "deployment web created\n"
    )
    listed = json.loads(echo.ok("deployment", "ls", "-m", "echo", "-o", "json"))
    assert [d["id"] for d in listed] == ["web"]
    assert "shared/default (priority 0)" in echo.ok("deployment", "get", "web")
    echo.ok(
        "deployment", "update", "web", "--min-replicas", "1", "--target-concurrency", "8",
        "--set", "autoscale_config.scale_down_delay_seconds=60", "--disable",
    )  # fmt: skip
    shown = json.loads(echo.ok("deployment", "get", "web", "-o", "json"))
    assert shown["status"] == "disabled"
    knobs = shown["autoscale_config"]
    assert (knobs["min_replicas"], knobs["max_replicas"], knobs["target_concurrency"]) == (1, 3, 8)
    assert knobs["scale_down_delay_seconds"] == 60
    assert echo.ok("deployment", "rm", "web", "-y") == "deployment web deleted\n"
    gone = echo("deployment", "get", "web")
    assert (gone.exit_code, gone.stderr) == (1, "Error DEPLOYMENT_NOT_FOUND: no deployment 'web'\n")


def test_a_deployment_names_its_nodepools_with_priorities(echo: Cli) -> None:
    echo.ok("cluster", "create", "here")
    echo.ok("nodepool", "create", "here/small", "-i", "local-small")
    echo.ok("nodepool", "create", "here/medium", "-i", "local-medium")
    echo.ok(
        "deployment", "create", "web", "-m", "echo", "-n", "here/small:9", "-n", "here/medium",
        "--scheduling", "price",
    )  # fmt: skip
    shown = json.loads(echo.ok("deployment", "get", "web", "-o", "json"))
    assert shown["nodepools"] == [
        {"compute_cluster": "here", "nodepool": "small", "priority": 9},
        {"compute_cluster": "here", "nodepool": "medium", "priority": 0},
    ]
    assert shown["scheduling_choice"] == "price"
    assert "here/small,here/medium" in echo.ok("deployment", "ls", "-c", "here")


def test_create_with_wait_returns_once_a_replica_is_ready(echo: Cli, live: Live) -> None:
    live.soon(lambda: live.add_ready_replica(echo.user.id, "web"))
    done = echo("deployment", "create", "web", "-m", "echo", "--min-replicas", "1", "--wait")
    assert done.exit_code == 0, done.stderr
    assert "Waiting for a replica of deployment web to be ready" in done.stderr
    replicas = json.loads(echo.ok("deployment", "replicas", "web", "-o", "json"))
    assert [r["state"] for r in replicas] == ["ready"]
    assert "ready" in echo.ok("deployment", "replicas", "web")


def test_wait_on_a_deployment_kept_at_zero_says_why_it_does_not_wait(echo: Cli) -> None:
    done = echo("deployment", "create", "web", "-m", "echo", "--wait")
    assert done.exit_code == 0
    assert "min_replicas 0: its first request starts a replica (not waiting)" in done.stderr


def test_predict_prints_the_outputs_of_inline_or_file_inputs(
    echo: Cli, live: Live, tmp_path: Path
) -> None:
    echo.ok("deployment", "create", "web", "-m", "echo")
    live.add_stand_in(echo.user.id, "web")
    assert json.loads(echo.ok("predict", "web", "--input", '{"text": "hi"}')) == {"text": "hi"}
    inputs = tmp_path / "inputs.json"
    inputs.write_text("[1, 2, 3]")
    assert json.loads(echo.ok("predict", "web", "-i", f"@{inputs}")) == [1, 2, 3]
    assert echo.ok("predict", "web", "-i", "@-", "-o", "yaml", input='{"a": 1}') == "a: 1\n"


def test_predict_of_a_missing_deployment_shows_its_code(echo: Cli) -> None:
    missing = echo("predict", "nope", "--input", "1")
    assert missing.exit_code == 1
    assert missing.stderr == "Error DEPLOYMENT_NOT_FOUND: no deployment 'nope'\n"


def test_logs_print_time_replica_and_text_oldest_first(echo: Cli, live: Live) -> None:
    echo.ok("deployment", "create", "web", "-m", "echo")
    replica = live.add_ready_replica(echo.user.id, "web")
    live.write_logs(replica, (T0, "loading"), (T0 + timedelta(seconds=1), "ready"))
    assert echo.ok("logs", "web") == (
        f"2026-01-01T12:00:00.000Z {replica} loading\n2026-01-01T12:00:01.000Z {replica} ready\n"
    )
    assert echo.ok("deployment", "logs", "web", "--tail", "1").endswith(" ready\n")
    as_json = [json.loads(line) for line in echo.ok("logs", "web", "-o", "json").splitlines()]
    assert [line["text"] for line in as_json] == ["loading", "ready"]
    assert echo.ok("logs", "web", "--since", "2026-01-01T12:00:00Z").endswith(" ready\n")


def test_logs_follow_prints_new_lines_until_stopped(echo: Cli, live: Live) -> None:
    """Followed in a process of its own, stopped as a user stops it (Ctrl-C)."""
    echo.ok("deployment", "create", "web", "-m", "echo")
    replica = live.add_ready_replica(echo.user.id, "web")
    live.write_logs(replica, (T0, "loading"))
    follower = start_follower(echo, "logs", "web", "-f")
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline().endswith(f" {replica} loading\n")
        live.write_logs(replica, (T0 + timedelta(seconds=1), "ready"))
        assert follower.stdout.readline().endswith(f" {replica} ready\n")
    finally:
        stop_with_ctrl_c(follower)
