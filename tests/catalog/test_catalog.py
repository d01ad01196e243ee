"""The shipped instance-type catalog and the filters users list it with."""

from __future__ import annotations

from typing import Any

import pytest

from flotilla.catalog import (
    Catalog,
    InstanceTypeFilter,
    allocatable,
    filter_instance_types,
    shipped_catalog,
)
from flotilla.domain.resources import ComputeInfo, InstanceType, PricePerHour
from flotilla.domain.states import Architecture, CapacityType

Mi, Gi = 2**20, 2**30


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return shipped_catalog()


def listed(catalog: Catalog, **criteria: Any) -> list[InstanceType]:
    return filter_instance_types(catalog.instance_types, InstanceTypeFilter(**criteria))


def ids(types: list[InstanceType]) -> set[str]:
    return {it.id for it in types}


def instance_type(type_id: str, on_demand: float, spot: float | None) -> InstanceType:
    """A made-up type for the cases the shipped data does not have (no spot offer)."""
    info = ComputeInfo(cpu="2", memory="4Gi")
    capacity = (
        [CapacityType.ON_DEMAND] if spot is None else [CapacityType.SPOT, CapacityType.ON_DEMAND]
    )
    return InstanceType(
        id=type_id,
        cloud_provider="sim",
        region="sim-east",
        compute_info=info,
        architecture=Architecture.X86_64,
        price_per_hour=PricePerHour(on_demand=on_demand, spot=spot),
        allowed_capacity_types=capacity,
        allocatable=info,
    )


# ---------------------------------------------------------------- shipped data


def test_shipped_catalog_has_the_five_providers(catalog: Catalog) -> None:
    assert [p.id for p in catalog.providers] == ["aws", "gcp", "local", "self_managed", "sim"]


@pytest.mark.parametrize(
    ("provider", "regions"),
    [
        ("aws", ["us-east-1", "us-west-2"]),
        ("gcp", ["us-central1"]),
        ("local", ["local"]),
        ("self_managed", ["default"]),
        ("sim", ["sim-east", "sim-west"]),
    ],
)
def test_provider_has_its_regions(catalog: Catalog, provider: str, regions: list[str]) -> None:
    found = catalog.provider(provider)
    assert found is not None
    assert [r.id for r in found.regions] == regions


def test_unknown_provider_is_none(catalog: Catalog) -> None:
    assert catalog.provider("azure") is None


@pytest.mark.parametrize("provider", ["aws", "gcp", "local", "sim"])
def test_every_provider_with_prices_says_where_they_come_from(
    catalog: Catalog, provider: str
) -> None:
    found = catalog.provider(provider)
    assert found is not None
    assert found.source.strip() != ""
    assert "\n" not in found.source


def test_catalog_has_at_least_25_real_cloud_types(catalog: Catalog) -> None:
    real = {(it.cloud_provider, it.id) for it in catalog.instance_types}
    assert len({t for t in real if t[0] in ("aws", "gcp")}) >= 25


def test_every_aws_region_offers_types(catalog: Catalog) -> None:
    regions = {it.region for it in catalog.instance_types if it.cloud_provider == "aws"}
    assert regions == {"us-east-1", "us-west-2"}


def test_gcp_types_are_in_us_central1(catalog: Catalog) -> None:
    gcp = [it for it in catalog.instance_types if it.cloud_provider == "gcp"]
    assert gcp
    assert {it.region for it in gcp} == {"us-central1"}


def test_self_managed_ships_no_instance_types(catalog: Catalog) -> None:
    assert [it for it in catalog.instance_types if it.cloud_provider == "self_managed"] == []


@pytest.mark.parametrize(
    "accelerator",
    ["NVIDIA-T4", "NVIDIA-A10G", "NVIDIA-L4", "NVIDIA-L40S", "NVIDIA-A100", "NVIDIA-H100"],
)
def test_real_clouds_offer_the_common_gpus(catalog: Catalog, accelerator: str) -> None:
    offered = {
        it.compute_info.accelerator_type
        for it in catalog.instance_types
        if it.cloud_provider in ("aws", "gcp")
    }
    assert accelerator in offered


def test_catalog_offers_both_cpu_only_and_gpu_types_on_each_real_cloud(catalog: Catalog) -> None:
    for provider in ("aws", "gcp"):
        types = [it for it in catalog.instance_types if it.cloud_provider == provider]
        assert any(it.compute_info.accelerators == 0 for it in types)
        assert any(it.compute_info.accelerators > 0 for it in types)


def test_every_type_has_positive_cpu_and_memory(catalog: Catalog) -> None:
    bad = [
        it.id
        for it in catalog.instance_types
        if it.compute_info.cpu <= 0 or it.compute_info.memory <= 0
    ]
    assert bad == []


def test_every_gpu_type_names_its_accelerator_and_its_memory(catalog: Catalog) -> None:
    bad = [
        it.id
        for it in catalog.instance_types
        if it.compute_info.accelerators > 0
        and (not it.compute_info.accelerator_type or not it.compute_info.accelerator_memory)
    ]
    assert bad == []


def test_every_cpu_only_type_has_no_accelerator_type(catalog: Catalog) -> None:
    bad = [
        it.id
        for it in catalog.instance_types
        if it.compute_info.accelerators == 0 and it.compute_info.accelerator_type is not None
    ]
    assert bad == []


def test_spot_is_never_dearer_than_on_demand(catalog: Catalog) -> None:
    bad = [
        (it.id, it.region)
        for it in catalog.instance_types
        if it.price_per_hour.spot is not None
        and it.price_per_hour.spot > it.price_per_hour.on_demand
    ]
    assert bad == []


def test_real_cloud_prices_are_positive(catalog: Catalog) -> None:
    bad = [
        it.id
        for it in catalog.instance_types
        if it.cloud_provider in ("aws", "gcp") and it.price_per_hour.on_demand <= 0
    ]
    assert bad == []


def test_spot_capacity_is_offered_exactly_when_a_spot_price_exists(catalog: Catalog) -> None:
    for it in catalog.instance_types:
        expected = [CapacityType.ON_DEMAND]
        if it.price_per_hour.spot is not None:
            expected = [CapacityType.SPOT, CapacityType.ON_DEMAND]
        assert it.allowed_capacity_types == expected, it.id


def test_allocatable_is_less_than_capacity_for_every_type(catalog: Catalog) -> None:
    bad = [
        it.id
        for it in catalog.instance_types
        if not (0 < it.allocatable.cpu < it.compute_info.cpu)
        or not (0 < it.allocatable.memory < it.compute_info.memory)
    ]
    assert bad == []


def test_allocatable_keeps_every_accelerator(catalog: Catalog) -> None:
    for it in catalog.instance_types:
        assert it.allocatable.accelerators == it.compute_info.accelerators, it.id
        assert it.allocatable.accelerator_type == it.compute_info.accelerator_type, it.id


def test_allocatable_reserves_a_fixed_part_and_a_share_rounded_down() -> None:
    assert allocatable(1000, Gi) == (880, 716 * Mi)
    assert allocatable(4000, 16 * Gi) == (3820, 15308 * Mi)


def test_allocatable_of_a_tiny_shape_is_zero_not_negative() -> None:
    assert allocatable(50, 100 * Mi) == (0, 0)


@pytest.mark.parametrize(
    ("type_id", "cpu", "memory"),
    [("local-small", 1000, Gi), ("local-medium", 2000, 4 * Gi), ("local-large", 4000, 8 * Gi)],
)
def test_local_types_are_free_slices_of_this_machine(
    catalog: Catalog, type_id: str, cpu: int, memory: int
) -> None:
    it = catalog.instance_type("local", "local", type_id)
    assert it is not None
    assert (it.compute_info.cpu, it.compute_info.memory) == (cpu, memory)
    assert it.compute_info.accelerators == 0
    assert it.price_per_hour.on_demand == 0.0


def test_local_small_leaves_880m_and_716mi_for_replicas(catalog: Catalog) -> None:
    it = catalog.instance_type("local", "local", "local-small")
    assert it is not None
    assert it.allocatable.model_dump(mode="json")["cpu"] == "880m"
    assert it.allocatable.model_dump(mode="json")["memory"] == "716Mi"


def test_catalog_lookup_is_by_provider_region_and_type(catalog: Catalog) -> None:
    it = catalog.instance_type("aws", "us-west-2", "g5.xlarge")
    assert it is not None
    assert (it.compute_info.cpu, it.compute_info.memory) == (4000, 16 * Gi)
    assert (it.compute_info.accelerators, it.compute_info.accelerator_type) == (1, "NVIDIA-A10G")
    assert it.compute_info.accelerator_memory == 24 * Gi
    assert catalog.instance_type("aws", "us-central1", "g5.xlarge") is None
    assert catalog.instance_type("gcp", "us-east-1", "g5.xlarge") is None


def test_regional_spot_price_overrides_the_default(catalog: Catalog) -> None:
    east = catalog.instance_type("aws", "us-east-1", "g5.xlarge")
    west = catalog.instance_type("aws", "us-west-2", "g5.xlarge")
    assert east is not None and west is not None
    assert (east.price_per_hour.on_demand, east.price_per_hour.spot) == (1.006, 0.45)
    assert (west.price_per_hour.on_demand, west.price_per_hour.spot) == (1.006, 0.4)


def test_graviton_types_are_arm64(catalog: Catalog) -> None:
    it = catalog.instance_type("aws", "us-east-1", "m7g.xlarge")
    assert it is not None
    assert it.architecture == Architecture.ARM64


def test_only_sim_types_have_a_launch_time(catalog: Catalog) -> None:
    timed = {it.cloud_provider for it in catalog.instance_types if it.launch_seconds is not None}
    assert timed == {"sim"}


def test_shipped_catalog_is_read_once() -> None:
    assert shipped_catalog() is shipped_catalog()


# ---------------------------------------------------------------- filters


def test_filter_by_provider_and_region(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="aws", region="us-west-2")
    assert found
    assert {(it.cloud_provider, it.region) for it in found} == {("aws", "us-west-2")}


def test_filter_without_criteria_lists_everything(catalog: Catalog) -> None:
    assert len(listed(catalog)) == len(catalog.instance_types)


def test_filter_gpu_true_lists_only_types_with_accelerators(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="gcp", gpu=True)
    assert ids(found) == {
        "n1-standard-8-nvidia-t4-1",
        "g2-standard-4",
        "g2-standard-24",
        "a2-highgpu-1g",
        "a2-ultragpu-1g",
        "a3-highgpu-8g",
    }


def test_filter_gpu_false_lists_only_cpu_types(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="gcp", gpu=False)
    assert ids(found) == {
        "e2-standard-2",
        "e2-standard-4",
        "n2-standard-4",
        "n2-standard-8",
        "n2-highmem-4",
        "c3-standard-8",
        "t2a-standard-4",
    }


def test_filter_min_gpus(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="aws", region="us-east-1", min_gpus=8)
    assert ids(found) == {"g5.48xlarge", "p4d.24xlarge", "p4de.24xlarge", "p5.48xlarge"}


def test_filter_min_gpu_memory_is_per_accelerator(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="gcp", min_gpu_memory="80Gi")
    assert ids(found) == {"a2-ultragpu-1g", "a3-highgpu-8g"}
    assert listed(catalog, cloud_provider="gcp", min_gpu_memory=80 * Gi) == found


def test_filter_min_gpu_memory_leaves_out_cpu_only_types(catalog: Catalog) -> None:
    assert all(it.compute_info.accelerators > 0 for it in listed(catalog, min_gpu_memory="1Mi"))


def test_filter_accelerator_wildcard_prefix(catalog: Catalog) -> None:
    found = listed(catalog, accelerator_type="NVIDIA-*")
    assert found
    assert all(it.compute_info.accelerators > 0 for it in found)
    assert len(found) == len(listed(catalog, gpu=True))


def test_filter_accelerator_wildcard_is_case_insensitive(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="gcp", accelerator_type="*a100*")
    assert ids(found) == {"a2-highgpu-1g", "a2-ultragpu-1g"}
    assert {it.compute_info.accelerator_type for it in found} == {"NVIDIA-A100", "NVIDIA-A100-80GB"}


def test_filter_exact_accelerator_type_does_not_match_its_variants(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="gcp", accelerator_type="nvidia-a100")
    assert ids(found) == {"a2-highgpu-1g"}


def test_filter_accelerator_star_matches_no_cpu_only_type(catalog: Catalog) -> None:
    assert ids(listed(catalog, accelerator_type="*")) == ids(listed(catalog, gpu=True))


def test_filter_max_price_compares_on_demand_by_default(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="aws", region="us-east-1", max_price=0.1)
    assert ids(found) == {"t3.medium", "t3.large", "m5.large"}


def test_filter_max_price_compares_spot_when_asked(catalog: Catalog) -> None:
    found = listed(
        catalog,
        cloud_provider="aws",
        region="us-east-1",
        gpu=True,
        max_price=0.3,
        capacity_type="spot",
    )
    assert ids(found) == {"g4dn.xlarge", "g4dn.2xlarge"}
    on_demand = listed(
        catalog,
        cloud_provider="aws",
        region="us-east-1",
        gpu=True,
        max_price=0.3,
        capacity_type="on_demand",
    )
    assert on_demand == []


def test_filter_max_price_is_inclusive(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="aws", region="us-east-1", max_price=0.0416)
    assert ids(found) == {"t3.medium"}


def test_filter_spot_leaves_out_types_without_spot() -> None:
    types = [instance_type("no-spot", 0.1, None), instance_type("with-spot", 0.2, 0.05)]
    flt = InstanceTypeFilter(capacity_type="spot", max_price=1.0)
    assert ids(filter_instance_types(types, flt)) == {"with-spot"}
    assert ids(filter_instance_types(types, InstanceTypeFilter(capacity_type="spot"))) == {
        "with-spot"
    }


def test_filter_on_demand_keeps_types_without_spot() -> None:
    types = [instance_type("no-spot", 0.1, None), instance_type("with-spot", 0.2, 0.05)]
    found = filter_instance_types(types, InstanceTypeFilter(capacity_type="on_demand"))
    assert [it.id for it in found] == ["no-spot", "with-spot"]


def test_filter_sorts_cheapest_on_demand_first(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="aws", region="us-east-1", gpu=True)
    prices = [it.price_per_hour.on_demand for it in found]
    assert prices == sorted(prices)
    assert [it.id for it in found[:3]] == ["g4dn.xlarge", "g4dn.2xlarge", "g6.xlarge"]
    assert found[-1].id == "p5.48xlarge"


def test_filter_for_spot_sorts_by_spot_price() -> None:
    types = [
        instance_type("cheap-on-demand", 0.10, 0.09),
        instance_type("cheap-spot", 0.50, 0.02),
    ]
    by_spot = filter_instance_types(types, InstanceTypeFilter(capacity_type="spot"))
    by_on_demand = filter_instance_types(types, InstanceTypeFilter())
    assert [it.id for it in by_spot] == ["cheap-spot", "cheap-on-demand"]
    assert [it.id for it in by_on_demand] == ["cheap-on-demand", "cheap-spot"]


def test_filter_breaks_price_ties_by_provider_region_and_id(catalog: Catalog) -> None:
    found = listed(catalog, cloud_provider="local")
    assert [it.id for it in found] == ["local-large", "local-medium", "local-small"]


def test_filter_combines_criteria(catalog: Catalog) -> None:
    found = listed(
        catalog,
        cloud_provider="aws",
        region="us-west-2",
        accelerator_type="nvidia-a10g",
        min_gpus=4,
        max_price=6.0,
    )
    assert [it.id for it in found] == ["g5.12xlarge"]


def test_filter_refuses_unknown_criteria() -> None:
    with pytest.raises(ValueError, match="gpus"):
        InstanceTypeFilter.model_validate({"gpus": 2})


def test_filter_refuses_negative_max_price_and_min_gpus() -> None:
    with pytest.raises(ValueError, match="max_price"):
        InstanceTypeFilter(max_price=-1)
    with pytest.raises(ValueError, match="min_gpus"):
        InstanceTypeFilter(min_gpus=-1)
