"""Specs: defaults, the rules each spec checks on its own, merge patches and PATCH bodies."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from flotilla.domain.specs import (
    AutoscaleConfig,
    ComputeClusterPatch,
    ComputeClusterSpec,
    DeploymentPatch,
    DeploymentSpec,
    ModelPatch,
    NodepoolPatch,
    NodepoolSpec,
    Spec,
    TokenSpec,
    UserPatch,
    merge_patch,
)
from flotilla.domain.states import (
    CapacityType,
    ClusterType,
    DeploymentStatus,
    ManagedBy,
    SchedulingChoice,
)


def only_error(caught: pytest.ExceptionInfo[ValidationError]) -> dict[str, Any]:
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


def ref(cluster: str = "shared", nodepool: str = "default", priority: int = 0) -> dict[str, Any]:
    return {"compute_cluster": cluster, "nodepool": nodepool, "priority": priority}


# ---------------------------------------------------------------- AutoscaleConfig


def test_autoscale_config_defaults() -> None:
    cfg = AutoscaleConfig()
    assert cfg.min_replicas == 0
    assert cfg.max_replicas == 5
    assert cfg.target_concurrency == 4.0
    assert cfg.traffic_history_seconds == 300
    assert cfg.scale_up_delay_seconds == 0
    assert cfg.scale_down_delay_seconds == 300
    assert cfg.scale_to_zero_delay_seconds == 1800
    assert cfg.disable_packing is False


def test_autoscale_min_replicas_may_equal_max_replicas() -> None:
    cfg = AutoscaleConfig(min_replicas=3, max_replicas=3)
    assert (cfg.min_replicas, cfg.max_replicas) == (3, 3)


def test_autoscale_min_replicas_above_max_replicas_is_refused_with_both_values() -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig(min_replicas=4, max_replicas=2)
    assert only_error(caught)["msg"] == (
        "Value error, min_replicas (4) must not exceed max_replicas (2)"
    )


def test_scale_to_zero_delay_may_equal_scale_down_delay() -> None:
    cfg = AutoscaleConfig(scale_down_delay_seconds=600, scale_to_zero_delay_seconds=600)
    assert cfg.scale_to_zero_delay_seconds == 600


def test_scale_to_zero_delay_shorter_than_scale_down_delay_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig(scale_down_delay_seconds=600, scale_to_zero_delay_seconds=599)
    assert only_error(caught)["msg"] == (
        "Value error, scale_to_zero_delay_seconds (599) must be at least "
        "scale_down_delay_seconds (600)"
    )


@pytest.mark.parametrize(
    "field",
    [
        "min_replicas",
        "max_replicas",
        "target_concurrency",
        "traffic_history_seconds",
        "scale_up_delay_seconds",
        "scale_down_delay_seconds",
        "scale_to_zero_delay_seconds",
    ],
)
def test_negative_autoscale_numbers_are_refused_naming_the_field(field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig.model_validate({field: -1})
    error = only_error(caught)
    assert error["loc"] == (field,)
    assert error["type"] in {"greater_than_equal", "greater_than"}


def test_autoscale_zero_target_concurrency_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig(target_concurrency=0)
    assert only_error(caught)["type"] == "greater_than"


def test_autoscale_max_replicas_of_zero_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig(max_replicas=0)
    assert only_error(caught)["loc"] == ("max_replicas",)


def test_autoscale_unknown_field_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        AutoscaleConfig.model_validate({"max_replica": 3})
    error = only_error(caught)
    assert (error["type"], error["loc"]) == ("extra_forbidden", ("max_replica",))


# ---------------------------------------------------------------- NodepoolSpec


def test_nodepool_defaults_to_one_on_demand_instance_at_most() -> None:
    pool = NodepoolSpec(id="cpu")
    assert pool.capacity_types == [CapacityType.ON_DEMAND]
    assert (pool.min_instances, pool.max_instances) == (0, 1)
    assert pool.instance_types == []


def test_nodepool_keeps_instance_types_and_capacity_types_in_preference_order() -> None:
    pool = NodepoolSpec(
        id="a10-pool",
        instance_types=["g5.xlarge", "g5.2xlarge"],
        capacity_types=["spot", "on_demand"],
        min_instances=1,
        max_instances=4,
    )
    assert pool.instance_types == ["g5.xlarge", "g5.2xlarge"]
    assert pool.capacity_types == [CapacityType.SPOT, CapacityType.ON_DEMAND]


def test_nodepool_min_instances_above_max_instances_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", min_instances=3, max_instances=2)
    assert only_error(caught)["msg"] == (
        "Value error, min_instances (3) must not exceed max_instances (2)"
    )


def test_nodepool_negative_min_instances_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", min_instances=-1)
    assert only_error(caught)["loc"] == ("min_instances",)


def test_nodepool_duplicate_instance_type_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", instance_types=["g5.xlarge", "g5.xlarge"])
    assert only_error(caught)["msg"] == "Value error, instance_types lists the same type twice"


def test_nodepool_duplicate_capacity_type_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", capacity_types=["spot", "spot"])
    assert only_error(caught)["msg"] == (
        "Value error, capacity_types lists the same capacity type twice"
    )


def test_nodepool_empty_capacity_types_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", capacity_types=[])
    assert only_error(caught)["type"] == "too_short"


def test_nodepool_invalid_instance_type_is_refused_at_its_position() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec(id="p", instance_types=["g5.xlarge", "g5 2xlarge"])
    assert only_error(caught)["loc"] == ("instance_types", 1)


def test_nodepool_unknown_field_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolSpec.model_validate({"id": "p", "max_nodes": 3})
    assert only_error(caught)["loc"] == ("max_nodes",)


def test_spec_strings_are_stripped_of_surrounding_whitespace() -> None:
    assert NodepoolSpec(id="  cpu  ").id == "cpu"


# ---------------------------------------------------------------- DeploymentSpec


def test_deployment_defaults() -> None:
    dep = DeploymentSpec(id="sentiment-prod", model="sentiment")
    assert dep.model_version == "latest"
    assert dep.nodepools == []
    assert dep.scheduling_choice == SchedulingChoice.PRIORITY
    assert dep.status == DeploymentStatus.ENABLED
    assert dep.autoscale_config == AutoscaleConfig()


@pytest.mark.parametrize("priority", [0, 9])
def test_deployment_nodepool_priority_accepts_zero_to_nine(priority: int) -> None:
    dep = DeploymentSpec(id="d", model="m", nodepools=[ref(priority=priority)])
    assert dep.nodepools[0].priority == priority


@pytest.mark.parametrize("priority", [-1, 10])
def test_deployment_nodepool_priority_outside_zero_to_nine_is_refused(priority: int) -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentSpec(id="d", model="m", nodepools=[ref(priority=priority)])
    assert only_error(caught)["loc"] == ("nodepools", 0, "priority")


def test_deployment_listing_the_same_nodepool_twice_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentSpec(id="d", model="m", nodepools=[ref(priority=1), ref(priority=2)])
    assert only_error(caught)["msg"] == "Value error, nodepools lists the same nodepool twice"


def test_deployment_may_use_same_nodepool_name_in_two_clusters() -> None:
    dep = DeploymentSpec(id="d", model="m", nodepools=[ref("a", "gpu"), ref("b", "gpu")])
    assert [(r.compute_cluster, r.nodepool) for r in dep.nodepools] == [("a", "gpu"), ("b", "gpu")]


@pytest.mark.parametrize("status", ["enabled", "disabled"])
def test_deployment_status_may_be_set_to_enabled_or_disabled(status: str) -> None:
    assert DeploymentSpec(id="d", model="m", status=status).status == status


def test_deployment_status_deleting_is_not_accepted_from_users() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentSpec(id="d", model="m", status="deleting")
    assert only_error(caught)["msg"] == "Value error, status may be 'enabled' or 'disabled'"


def test_deployment_autoscale_rules_apply_inside_the_deployment() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentSpec(id="d", model="m", autoscale_config={"min_replicas": 6})
    assert only_error(caught)["loc"] == ("autoscale_config",)


def test_deployment_unknown_nested_field_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentSpec.model_validate(
            {"id": "d", "model": "m", "autoscale_config": {"min_replica": 1}}
        )
    assert only_error(caught)["loc"] == ("autoscale_config", "min_replica")


# ---------------------------------------------------------------- ComputeClusterSpec


def cluster(**fields: Any) -> ComputeClusterSpec:
    return ComputeClusterSpec.model_validate(
        {"id": "gpu-east", "cloud_provider": "aws", "region": "us-east-1", **fields}
    )


def test_self_managed_cluster_is_managed_by_the_user_by_default() -> None:
    assert cluster(cluster_type="self_managed").managed_by == ManagedBy.USER


@pytest.mark.parametrize("cluster_type", ["dedicated", "shared"])
def test_other_clusters_are_managed_by_flotilla_by_default(cluster_type: str) -> None:
    assert cluster(cluster_type=cluster_type).managed_by == ManagedBy.FLOTILLA


def test_cluster_type_defaults_to_dedicated() -> None:
    spec = cluster()
    assert spec.cluster_type == ClusterType.DEDICATED
    assert spec.token_id is None


def test_explicit_managed_by_is_kept() -> None:
    assert cluster(cluster_type="self_managed", managed_by="flotilla").managed_by == "flotilla"


def test_cluster_without_provider_and_region_is_refused_naming_both() -> None:
    with pytest.raises(ValidationError) as caught:
        ComputeClusterSpec.model_validate({"id": "c"})
    assert {e["loc"] for e in caught.value.errors()} == {("cloud_provider",), ("region",)}


# ---------------------------------------------------------------- merge_patch (RFC 7396)


def test_merge_patch_replaces_scalars_and_keeps_untouched_keys() -> None:
    assert merge_patch({"a": 1, "b": 2}, {"a": 3}) == {"a": 3, "b": 2}


def test_merge_patch_merges_nested_objects_key_by_key() -> None:
    current = {"autoscale_config": {"min_replicas": 1, "max_replicas": 5}}
    patch = {"autoscale_config": {"max_replicas": 8}}
    assert merge_patch(current, patch) == {
        "autoscale_config": {"min_replicas": 1, "max_replicas": 8}
    }


def test_merge_patch_null_removes_the_key() -> None:
    assert merge_patch({"a": 1, "b": 2}, {"a": None}) == {"b": 2}
    assert merge_patch({"a": {"b": 1, "c": 2}}, {"a": {"b": None}}) == {"a": {"c": 2}}


def test_merge_patch_null_for_an_absent_key_is_not_an_error() -> None:
    assert merge_patch({"a": 1}, {"z": None}) == {"a": 1}


def test_merge_patch_replaces_lists_whole() -> None:
    current = {"instance_types": ["g5.xlarge", "g5.2xlarge"]}
    assert merge_patch(current, {"instance_types": ["g6.xlarge"]}) == {
        "instance_types": ["g6.xlarge"]
    }


def test_merge_patch_object_replaces_a_scalar_and_drops_its_nulls() -> None:
    # RFC 7396: a patch object onto a non-object is merged onto {}, so its nulls vanish
    assert merge_patch({"a": 1}, {"a": {"b": None, "c": 2}}) == {"a": {"c": 2}}
    assert merge_patch({}, {"a": {"b": {"c": None}}}) == {"a": {"b": {}}}


def test_merge_patch_scalar_replaces_an_object() -> None:
    assert merge_patch({"a": {"b": 1}}, {"a": 5}) == {"a": 5}


def test_merge_patch_leaves_its_inputs_unchanged() -> None:
    current = {"a": {"b": 1}}
    patch = {"a": {"b": None, "c": 2}}
    merge_patch(current, patch)
    assert current == {"a": {"b": 1}}
    assert patch == {"a": {"b": None, "c": 2}}


def test_merge_patch_of_a_spec_dump_validates_to_the_patched_spec() -> None:
    current = NodepoolSpec(id="p", min_instances=1, max_instances=2).model_dump(mode="json")
    merged = NodepoolSpec.model_validate(merge_patch(current, {"max_instances": 4}))
    assert (merged.min_instances, merged.max_instances) == (1, 4)


def test_merge_patch_null_resets_a_spec_field_to_its_default() -> None:
    current = DeploymentSpec(id="d", model="m", autoscale_config={"max_replicas": 9}).model_dump(
        mode="json"
    )
    merged = DeploymentSpec.model_validate(
        merge_patch(current, {"autoscale_config": {"max_replicas": None}})
    )
    assert merged.autoscale_config.max_replicas == 5


# ---------------------------------------------------------------- PATCH bodies


@pytest.mark.parametrize(
    ("patch", "spec"),
    [
        (ComputeClusterPatch, ComputeClusterSpec),
        (NodepoolPatch, NodepoolSpec),
        (DeploymentPatch, DeploymentSpec),
    ],
)
def test_patch_body_has_every_spec_field_and_all_are_optional(
    patch: type[Spec], spec: type[Spec]
) -> None:
    assert set(patch.model_fields) == set(spec.model_fields)
    assert not any(info.is_required() for info in patch.model_fields.values())
    assert patch.model_validate({}).model_dump(exclude_unset=True) == {}


@pytest.mark.parametrize("patch", [ModelPatch, UserPatch, NodepoolPatch])
def test_empty_patch_body_sets_nothing(patch: type[Spec]) -> None:
    assert patch.model_validate({}).model_fields_set == set()


def test_patch_body_records_only_the_fields_sent() -> None:
    body = NodepoolPatch.model_validate({"max_instances": 3, "description": None})
    assert body.model_dump(exclude_unset=True) == {"max_instances": 3, "description": None}


def test_nodepool_patch_keeps_the_field_constraints() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolPatch.model_validate({"min_instances": -1})
    error = only_error(caught)
    assert (error["loc"], error["type"]) == (("min_instances",), "greater_than_equal")


def test_patch_body_keeps_id_and_instance_type_rules() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolPatch.model_validate({"instance_types": ["ok.type", "-bad"]})
    assert only_error(caught)["loc"] == ("instance_types", 1)
    with pytest.raises(ValidationError):
        ComputeClusterPatch.model_validate({"token_id": "no spaces"})


def test_patch_body_refuses_unknown_fields_naming_them() -> None:
    with pytest.raises(ValidationError) as caught:
        NodepoolPatch.model_validate({"max_nodes": 3})
    error = only_error(caught)
    assert (error["type"], error["loc"]) == ("extra_forbidden", ("max_nodes",))


def test_patch_body_does_not_apply_cross_field_rules() -> None:
    body = NodepoolPatch.model_validate({"min_instances": 5, "max_instances": 1})
    assert body.model_dump(exclude_unset=True) == {"min_instances": 5, "max_instances": 1}


def test_cluster_patch_does_not_fill_in_managed_by() -> None:
    body = ComputeClusterPatch.model_validate({"cluster_type": "self_managed"})
    assert body.model_dump(exclude_unset=True) == {"cluster_type": ClusterType.SELF_MANAGED}
    assert body.model_dump()["managed_by"] is None


def test_deployment_patch_nested_autoscale_config_is_partial_too() -> None:
    body = DeploymentPatch.model_validate({"autoscale_config": {"max_replicas": 2}})
    assert body.model_dump(exclude_unset=True) == {"autoscale_config": {"max_replicas": 2}}


def test_deployment_patch_nested_autoscale_config_keeps_constraints_not_rules() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentPatch.model_validate({"autoscale_config": {"min_replicas": -1}})
    assert only_error(caught)["loc"] == ("autoscale_config", "min_replicas")
    body = DeploymentPatch.model_validate(
        {"autoscale_config": {"scale_down_delay_seconds": 900, "scale_to_zero_delay_seconds": 60}}
    )
    assert body.model_dump(exclude_unset=True)["autoscale_config"] == {
        "scale_down_delay_seconds": 900,
        "scale_to_zero_delay_seconds": 60,
    }


def test_deployment_patch_accepts_deleting_status_leaving_the_merged_spec_to_refuse_it() -> None:
    body = DeploymentPatch.model_validate({"status": "deleting"})
    merged = merge_patch({"id": "d", "model": "m"}, body.model_dump(exclude_unset=True))
    with pytest.raises(ValidationError, match="status may be 'enabled' or 'disabled'"):
        DeploymentSpec.model_validate(merged)


def test_deployment_patch_unknown_nested_field_is_refused_with_its_path() -> None:
    with pytest.raises(ValidationError) as caught:
        DeploymentPatch.model_validate({"autoscale_config": {"min_replica": 1}})
    assert only_error(caught)["loc"] == ("autoscale_config", "min_replica")


# ---------------------------------------------------------------- TokenSpec


def test_token_scopes_default_to_read_and_write() -> None:
    token = TokenSpec()
    assert token.scopes == ["read", "write"]
    assert token.id is None
    assert token.expires_in_days is None


def test_token_may_have_all_three_scopes() -> None:
    assert TokenSpec(scopes=["read", "write", "admin"]).scopes == ["read", "write", "admin"]


def test_token_unknown_scope_is_refused_naming_it() -> None:
    with pytest.raises(ValidationError) as caught:
        TokenSpec(scopes=["read", "root"])
    assert (
        only_error(caught)["msg"] == "Value error, unknown scope 'root': use read, write or admin"
    )


def test_token_without_scopes_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        TokenSpec(scopes=[])
    assert only_error(caught)["loc"] == ("scopes",)


@pytest.mark.parametrize("days", [1, 3650])
def test_token_expiry_may_be_one_day_to_ten_years(days: int) -> None:
    assert TokenSpec(expires_in_days=days).expires_in_days == days


@pytest.mark.parametrize("days", [0, 3651])
def test_token_expiry_outside_one_day_to_ten_years_is_refused(days: int) -> None:
    with pytest.raises(ValidationError) as caught:
        TokenSpec(expires_in_days=days)
    assert only_error(caught)["loc"] == ("expires_in_days",)
