"""``flotilla events``, ``flotilla usage`` and ``flotilla instance-types``."""

from __future__ import annotations

import json
import time

import yaml

from flotilla.domain.quantities import parse_memory
from tests.cli.conftest import Cli, start_follower, stop_with_ctrl_c
from tests.client.live import Live


def test_events_show_what_happened_oldest_first_and_filter(cli: Cli) -> None:
    cli.ok("cluster", "create", "a")
    cli.ok("cluster", "create", "b")
    shown = json.loads(cli.ok("events", "--kind", "compute_cluster", "--since", "1h", "-o", "json"))
    assert [e["object_id"] for e in shown][-2:] == ["a", "b"]
    only_b = cli.ok("events", "--object", "b")
    assert "compute_cluster/b" in only_b
    assert "compute_cluster/a" not in only_b
    assert cli.ok("events", "--warnings", "--object", "b").splitlines() == [
        "TYPE   OBJECT   REASON   MESSAGE   AGE"
    ]
    assert len(json.loads(cli.ok("events", "--limit", "1", "-o", "json"))) == 1


def test_events_follow_prints_new_events_as_they_happen(cli: Cli, live: Live) -> None:
    """Followed in a process of its own, stopped as a user stops it (Ctrl-C)."""
    follower = start_follower(cli, "events", "-f", "--kind", "compute_cluster")
    try:
        assert follower.stdout is not None
        header = follower.stdout.readline()
        assert header.split() == ["TIME", "TYPE", "OBJECT", "REASON", "MESSAGE"]
        while "compute_cluster/shared" not in follower.stdout.readline():
            pass  # the events before now come first
        time.sleep(0.2)
        cli.ok("cluster", "create", "later")
        line = follower.stdout.readline()
        assert "compute_cluster/later" in line
        assert "CLUSTER_CREATED" in line
    finally:
        stop_with_ctrl_c(follower)


def test_usage_is_shown_grouped_over_a_range(cli: Cli) -> None:
    table = cli("usage", "--by", "instance-type", "--since", "24h")
    assert table.exit_code == 0
    assert table.stdout.splitlines() == [
        "INSTANCE TYPE   NODE-HOURS   COST $",
        "TOTAL           0.00         0.00",
    ]
    assert table.stderr.startswith("from ")
    data = yaml.safe_load(
        cli.ok("usage", "--by", "capacity-type", "--until", "2026-01-01T00:00:00Z", "-o", "yaml")
    )
    assert (data["group_by"], data["until"]) == ("capacity_type", "2026-01-01T00:00:00Z")


def test_instance_types_filter_by_provider_gpu_memory_and_price(cli: Cli) -> None:
    command = "instance-types --cloud aws --region us-west-2 --gpu --min-gpus 1"
    found = json.loads(
        cli.ok(*command.split(), "--min-gpu-memory", "24Gi", "--max-price", "2", "-o", "json")
    )
    assert found
    for shape in found:
        assert (shape["cloud_provider"], shape["region"]) == ("aws", "us-west-2")
        assert parse_memory(shape["compute_info"]["accelerator_memory"]) >= 24 * 2**30
        assert shape["price_per_hour"]["on_demand"] <= 2
    cpu_only = cli.ok("instance-types", "--cloud", "local", "--no-gpu")
    assert {line.split()[2] for line in cpu_only.splitlines()[1:]} >= {
        "local-small",
        "local-medium",
    }
    spot_a10 = json.loads(cli.ok("instance-types", "--gpu-type", "*A10G", "--spot", "-o", "json"))
    assert {t["compute_info"]["accelerator_type"] for t in spot_a10} == {"NVIDIA-A10G"}
