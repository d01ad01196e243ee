"""``flotilla model …`` and ``flotilla deploy`` against a live server."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from tests.cli.conftest import Cli
from tests.client.live import EXAMPLES, Live, model_folder


def test_a_model_folder_uploads_as_a_version_and_lists(cli: Cli) -> None:
    first = cli.ok("model", "upload", str(EXAMPLES / "echo"), "--description", "first")
    assert first.startswith("model echo version ")
    again = json.loads(cli.ok("model", "upload", str(EXAMPLES / "echo"), "-o", "json"))
    assert first.split()[3] == again["id"]
    versions = json.loads(cli.ok("model", "versions", "echo", "-o", "json"))
    assert [v["id"] for v in versions] == [again["id"]]
    assert json.loads(cli.ok("model", "get", "echo", "-o", "json"))["version_count"] == 1
    assert [m["id"] for m in json.loads(cli.ok("model", "ls", "-o", "json"))] == ["echo"]


def test_a_packed_folder_uploads_too(cli: Cli, tmp_path: Path) -> None:
    archive = tmp_path / "echo.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for path in (EXAMPLES / "echo").glob("*.*"):
            tar.add(path, arcname=path.name)
    assert "uploaded" in cli.ok("model", "upload", str(archive), "--model", "echo")


def test_a_folder_without_model_yaml_is_refused_with_its_code(cli: Cli, tmp_path: Path) -> None:
    refused = cli("model", "upload", str(tmp_path))
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error PACKAGE_INVALID: ")
    assert "model.yaml" in refused.stderr


def test_a_model_is_created_changed_and_removed(cli: Cli) -> None:
    assert cli.ok("model", "create", "empty", "--description", "nothing yet") == (
        "model empty created\n"
    )
    cli.ok("model", "update", "empty", "--description", "still nothing")
    shown = json.loads(cli.ok("model", "get", "empty", "-o", "json"))
    assert (shown["description"], shown["latest_version"]) == ("still nothing", None)
    assert cli.ok("model", "rm", "empty", "-y") == "model empty deleted\n"
    assert cli("model", "get", "empty").stderr.startswith("Error MODEL_NOT_FOUND: no model 'empty'")


def test_a_model_in_use_is_not_removed(cli: Cli) -> None:
    cli.ok("model", "upload", str(EXAMPLES / "echo"))
    cli.ok("deployment", "create", "web", "-m", "echo")
    refused = cli("model", "rm", "echo", "-y")
    assert refused.exit_code == 1
    assert refused.stderr.startswith("Error MODEL_IN_USE: ")


def test_deploy_uploads_and_creates_cluster_nodepool_and_deployment(cli: Cli) -> None:
    done = cli.ok(
        "deploy", str(EXAMPLES / "echo"), "--instance", "local-small", "--max-replicas", "2"
    )
    lines = done.splitlines()
    assert lines[0].startswith("model echo version ")
    assert lines[1:5] == [
        "compute cluster local created (local/local)",
        "nodepool local/local-small created (local-small, up to 2 nodes)",
        "deployment echo created",
        'try it: flotilla predict echo --input \'{"text": "hello"}\'',
    ]
    deployment = json.loads(cli.ok("deployment", "get", "echo", "-o", "json"))
    assert deployment["nodepools"] == [
        {"compute_cluster": "local", "nodepool": "local-small", "priority": 0}
    ]
    assert deployment["model_version"] == lines[0].split()[3]
    assert deployment["autoscale_config"]["max_replicas"] == 2


def test_deploy_again_reuses_what_exists_and_moves_to_the_new_version(
    cli: Cli, tmp_path: Path
) -> None:
    cli.ok("deploy", str(EXAMPLES / "echo"), "--instance", "local-small")
    changed = model_folder(tmp_path, "echo")
    (changed / "model.py").write_text((changed / "model.py").read_text() + "\n# v2\n")
    again = json.loads(
        cli.ok(
            "deploy", str(changed), "--instance", "local-small", "--min-replicas", "0", "-o", "json"
        )
    )
    assert again["deployment"]["model_version"] == again["model_version"]["id"]
    assert again["nodepool"]["id"] == "local-small"
    assert [d["id"] for d in json.loads(cli.ok("deployment", "ls", "-o", "json"))] == ["echo"]
    text = cli.ok("deploy", str(changed), "--instance", "local-small")
    assert "compute cluster local reused (local/local)" in text
    assert "nodepool local/local-small reused" in text
    assert "deployment echo updated to version" in text


def test_deploy_with_wait_returns_once_a_replica_is_ready(cli: Cli, live: Live) -> None:
    live.soon(lambda: live.add_ready_replica(cli.user.id, "echo"))
    done = cli(
        "deploy", str(EXAMPLES / "echo"), "--instance", "local-small", "--min-replicas", "1",
        "--wait", "--timeout", "20",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    assert "Waiting for a replica of deployment echo to be ready" in done.stderr
