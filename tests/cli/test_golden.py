"""Tables as users see them, checked against golden files (``golden/*.txt``; regenerate with
``FLOTILLA_UPDATE_GOLDEN=1`` and read the diff). Times, ages, secrets and version ids are masked;
the terminal is 120 columns wide and colourless."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from tests.cli.conftest import Cli, matches_golden
from tests.client.live import EXAMPLES, Live

COMMANDS = {
    "cluster-ls": "cluster ls",
    "cluster-get": "cluster get gpu-east",
    "nodepool-ls": "nodepool ls",
    "nodepool-get": "nodepool get gpu-east/a10-pool",
    "model-ls": "model ls",
    "model-versions": "model versions echo",
    "deployment-ls": "deployment ls",
    "deployment-get": "deployment get echo-prod",
    "token-ls": "token ls",
    "instance-types": "instance-types --cloud aws --region us-east-1 --gpu --max-price 1.5",
    "events": "events --object gpu-east",
    "usage": "usage --by nodepool",
    "user-get": "user get me",
}
WORLD = """
compute_cluster:
  id: gpu-east
  description: GPU cluster for the vision team
  cloud_provider: aws
  region: us-east-1
---
nodepool:
  id: a10-pool
  compute_cluster: gpu-east
  instance_types: [g5.xlarge, g5.2xlarge]
  capacity_types: [spot, on_demand]
  max_instances: 4
---
deployment:
  id: echo-prod
  model: echo
  nodepools:
    - {compute_cluster: gpu-east, nodepool: a10-pool, priority: 5}
  autoscale_config: {min_replicas: 0, max_replicas: 3}
"""


@pytest.fixture(scope="module")
def world(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A user named 'golden' with a cluster, a nodepool, a model and a deployment."""
    golden = Cli(live.new_user("golden"), tmp_path_factory.mktemp("golden"), CliRunner())
    golden.ok("model", "upload", str(EXAMPLES / "echo"))
    world_file = tmp_path_factory.mktemp("files") / "world.yaml"
    world_file.write_text(WORLD)
    golden.ok("apply", "-f", str(world_file))
    return golden


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_table_matches_its_golden_file(world: Cli, name: str) -> None:
    result = world.line(COMMANDS[name])
    assert result.exit_code == 0, result.stderr
    matches_golden(name, result.stdout)
