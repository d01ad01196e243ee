"""``flotilla.Client`` against a live server over a real socket: typed resources, every
collection's create/get/list/update/delete, waiting, predictions, apply, usage."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import flotilla
from flotilla.client.types import ComputeCluster, Deployment, InstanceType, Nodepool
from flotilla.errors import (
    ClusterAlreadyExists,
    DeploymentNotFound,
    InvalidArgument,
    NodepoolNotFound,
    NotFound,
    ObjectDeleting,
    PermissionDenied,
    TokenRevoked,
    UnknownInstanceType,
    WaitTimedOut,
)
from tests.client.live import EXAMPLES, Live, User, model_folder

CLARIFAI = Path("/work/shared/examples/clarifai")


def later(seconds: float, action: object) -> threading.Timer:
    timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
    timer.start()
    return timer


def test_a_cluster_is_created_read_listed_changed_and_deleted(client: flotilla.Client) -> None:
    created = client.compute_clusters.create(
        "gpu-east", cloud_provider="aws", region="us-east-1", description="vision"
    )
    assert isinstance(created, ComputeCluster)
    assert (created.id, created.cloud_provider, created.status) == ("gpu-east", "aws", "active")
    assert client.clusters.get("gpu-east") == created
    assert [c.id for c in client.compute_clusters.list()] == ["gpu-east", "shared"]
    assert client.compute_clusters.update("gpu-east", description="team").description == "team"
    assert client.compute_clusters.delete("gpu-east").status == "deleted"
    with pytest.raises(NotFound):
        client.compute_clusters.get("gpu-east")


def test_an_error_answer_raises_the_class_of_its_code(client: flotilla.Client) -> None:
    with pytest.raises(NodepoolNotFound) as missing:
        client.nodepools.get("shared", "nope")
    assert missing.value.code == "NODEPOOL_NOT_FOUND"
    assert "nope" in missing.value.message
    client.compute_clusters.create("a", cloud_provider="local", region="local")
    with pytest.raises(ClusterAlreadyExists):
        client.compute_clusters.create("a", cloud_provider="local", region="local")
    with pytest.raises(UnknownInstanceType) as wrong:
        client.nodepools.create("a", "p", instance_types=["g5.xlarge"])
    assert isinstance(wrong.value, InvalidArgument)
    assert wrong.value.fields == {"instance_types.0": "not offered in local/local"}


def test_a_nodepool_is_managed_within_its_cluster(client: flotilla.Client) -> None:
    client.compute_clusters.create("gpu-east", cloud_provider="aws", region="us-east-1")
    pool = client.nodepools.create(
        "gpu-east", "a10", instance_types=["g5.xlarge"], capacity_types=["spot", "on_demand"]
    )
    assert isinstance(pool, Nodepool)
    assert (pool.compute_cluster, pool.capacity_types) == ("gpu-east", ["spot", "on_demand"])
    assert client.nodepools.update("gpu-east", "a10", max_instances=4).max_instances == 4
    assert [p.id for p in client.nodepools.list("gpu-east")] == ["a10"]
    assert list(client.nodepools.nodes("gpu-east", "a10")) == []
    assert client.nodepools.delete("gpu-east", "a10").status == "deleted"


def test_lists_iterate_across_pages(client: flotilla.Client) -> None:
    for number in range(5):
        client.models.create(f"m{number}")
    found = client.models.list(per_page=2)
    assert [m.id for m in found] == ["m0", "m1", "m2", "m3", "m4"]


def test_waiting_for_a_nodepool_returns_once_its_nodes_are_up(
    client: flotilla.Client, live: Live, user: User
) -> None:
    client.compute_clusters.create("here", cloud_provider="local", region="local")
    client.nodepools.create("here", "cpu", instance_types=["local-small"], min_instances=1)
    assert client.nodepools.get("here", "cpu").status == "pending"
    seen: list[str] = []
    later(0.3, lambda: live.add_ready_node(user.id, "here", "cpu"))
    ready = client.nodepools.wait_until_ready(
        "here", "cpu", timeout=10, on_update=lambda pool: seen.append(pool.status)
    )
    assert ready.status == "ready"
    assert seen[-1] == "ready"


def test_waiting_gives_up_after_its_timeout_saying_where_things_stand(
    client: flotilla.Client,
) -> None:
    client.compute_clusters.create("here", cloud_provider="local", region="local")
    client.nodepools.create("here", "cpu", instance_types=["local-small"], min_instances=1)
    started = time.monotonic()
    with pytest.raises(WaitTimedOut) as gave_up:
        client.nodepools.wait_until_ready("here", "cpu", timeout=0.5)
    assert time.monotonic() - started < 5
    assert "WAITING_FOR_NODES" in gave_up.value.message


def test_a_deployment_is_ready_once_a_replica_is(
    client: flotilla.Client, live: Live, user: User
) -> None:
    client.models.upload(EXAMPLES / "echo")
    created = client.deployments.create("echo", model="echo", autoscale_config={"min_replicas": 1})
    assert isinstance(created, Deployment)
    assert created.nodepools[0].compute_cluster == "shared"
    later(0.3, lambda: live.add_ready_replica(user.id, "echo"))
    ready = client.deployments.wait_until_ready("echo", timeout=10)
    assert ready.replicas == {"ready": 1}
    assert [r.state for r in client.deployments.replicas("echo")] == ["ready"]


def test_waiting_for_a_deployment_being_deleted_fails_at_once(
    client: flotilla.Client, live: Live, user: User
) -> None:
    client.models.upload(EXAMPLES / "echo")
    client.deployments.create("echo", model="echo")
    live.add_ready_replica(user.id, "echo")
    assert client.deployments.delete("echo").status == "deleting"
    with pytest.raises(ObjectDeleting):
        client.deployments.wait_until_ready("echo", timeout=10)


def test_predict_answers_the_models_outputs_through_the_gateway(
    client: flotilla.Client, live: Live, user: User
) -> None:
    client.models.upload(EXAMPLES / "echo")
    client.deployments.create("echo", model="echo")
    stand_in = live.add_stand_in(user.id, "echo")
    assert client.predict("echo", {"text": "hi"}) == {"text": "hi"}
    assert client.deployments.predict("echo", [1, 2]) == [1, 2]
    assert stand_in.served == 2
    with pytest.raises(DeploymentNotFound):
        client.predict("nope", 1)


def test_a_model_folder_uploads_as_a_version_and_again_as_the_same(
    client: flotilla.Client,
) -> None:
    first = client.models.upload(EXAMPLES / "echo", description="first")
    again = client.models.upload(EXAMPLES / "echo")
    assert first.id == again.id
    assert (first.model, first.entrypoint) == ("echo", "model.py:Echo")
    assert client.models.get("echo").latest_version == first.id
    assert client.models.version("echo").id == first.id
    assert [v.id for v in client.models.versions("echo")] == [first.id]
    client.models.update("echo", description="changed")
    client.models.delete("echo")
    with pytest.raises(NotFound):
        client.models.get("echo")


def test_apply_creates_then_leaves_unchanged_and_accepts_clarifai_files(
    client: flotilla.Client, tmp_path: Path
) -> None:
    client.models.upload(model_folder(tmp_path, "detector"))
    files = [CLARIFAI / f"{kind}.yaml" for kind in ("compute_cluster", "nodepool", "deployment")]
    text = "\n---\n".join(path.read_text() for path in files)
    assert [r.action for r in client.apply(text, dry_run=True).results] == ["created"] * 3
    assert [r.action for r in client.apply(text).results] == ["created"] * 3
    assert [r.action for r in client.apply(text).results] == ["unchanged"] * 3
    pool = client.nodepools.get("gpu-east", "a10-pool")
    assert pool.capacity_types == ["spot", "on_demand"]
    as_json = [{"compute_cluster": {"id": "b", "cloud_provider": "local", "region": "local"}}]
    assert client.apply(as_json).results[0].action == "created"
    assert client.apply(CLARIFAI / "compute_cluster.yaml").results[0].action == "unchanged"


def test_instance_types_filter_like_the_catalog(client: flotilla.Client) -> None:
    found = list(client.instance_types.list(cloud_provider="aws", gpu=True, min_gpu_memory="40Gi"))
    assert found
    assert all(isinstance(t, InstanceType) for t in found)
    assert all((t.compute_info.accelerator_memory or 0) >= 40 * 2**30 for t in found)
    one = client.instance_types.get("aws", "us-east-1", "g5.xlarge")
    assert one.compute_info.accelerator_type == "NVIDIA-A10G"
    assert "local" in [p.id for p in client.cloud_providers.list()]
    assert client.cloud_providers.get("aws").regions


def test_usage_is_read_grouped(client: flotilla.Client) -> None:
    usage = client.usage("instance_type")
    assert usage.group_by == "instance_type"
    assert usage.total_cost == 0
    with pytest.raises(InvalidArgument):
        client.usage("colour")


def test_a_token_is_created_shown_once_and_revoked(client: flotilla.Client, live: Live) -> None:
    made = client.tokens.create("ci", scopes=["read"], description="for CI")
    assert made.secret.startswith("flt_")
    assert made.scopes == ["read"]
    with flotilla.Client(live.url, made.secret) as reader:
        assert reader.me().id == client.me().id
        with pytest.raises(PermissionDenied):
            reader.models.create("x")
        assert client.tokens.revoke("ci").status == "revoked"
        with pytest.raises(TokenRevoked):
            reader.me()
    assert client.tokens.update("ci", description="old").description == "old"
    assert sorted(t.id for t in client.tokens.list()) == ["ci", "initial"]
    client.tokens.delete("ci")
    with pytest.raises(NotFound):
        client.tokens.get("ci")


def test_an_admin_manages_users(live: Live) -> None:
    with flotilla.Client(live.url, live.admin_token) as admin:
        created = admin.users.create("carol-client", name="Carol", email="c@example.com")
        assert created.token.secret.startswith("flt_")
        assert admin.users.get("carol-client").name == "Carol"
        assert "carol-client" in [u.id for u in admin.users.list()]
        assert admin.users.update("carol-client", is_admin=True).is_admin
        admin.users.delete("carol-client")
        with pytest.raises(NotFound):
            admin.users.get("carol-client")
