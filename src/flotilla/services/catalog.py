"""The instance-type catalog: copied into the database at start, listed with filters."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from flotilla.catalog import Catalog, InstanceTypeFilter, filter_instance_types
from flotilla.domain.errors import (
    CloudProviderNotFound,
    InstanceTypeNotFound,
    UnknownCloudProvider,
    UnknownRegion,
)
from flotilla.domain.resources import CloudProvider, InstanceType, Page
from flotilla.services.paging import PageParams, make_page
from flotilla.store.tables import CloudProviderRow, InstanceTypeRow, RegionRow


async def sync_catalog(session: AsyncSession, catalog: Catalog) -> None:
    """Make the catalog tables equal the shipped catalog (within the caller's transaction).

    Bulk statements, not one ORM object per row: this runs at every start.
    """
    for table in (InstanceTypeRow, RegionRow, CloudProviderRow):
        await session.execute(sa.delete(table))
    providers = [
        {"id": p.id, "display_name": p.display_name, "source": p.source} for p in catalog.providers
    ]
    regions = [
        {"provider_id": p.id, "id": r.id, "display_name": r.display_name}
        for p in catalog.providers
        for r in p.regions
    ]
    for table, rows in (
        (CloudProviderRow, providers),
        (RegionRow, regions),
        (InstanceTypeRow, [_instance_type_row(it) for it in catalog.instance_types]),
    ):
        if rows:
            await session.execute(sa.insert(table), rows)


def _instance_type_row(it: InstanceType) -> dict[str, Any]:
    info, alloc = it.compute_info, it.allocatable
    return {
        "provider_id": it.cloud_provider,
        "region_id": it.region,
        "id": it.id,
        "cpu_milli": info.cpu,
        "memory_bytes": info.memory,
        "accelerators": info.accelerators,
        "accelerator_type": info.accelerator_type,
        "accelerator_memory_bytes": info.accelerator_memory,
        "architecture": it.architecture.value,
        "price_on_demand": it.price_per_hour.on_demand,
        "price_spot": it.price_per_hour.spot,
        "allowed_capacity_types": [c.value for c in it.allowed_capacity_types],
        "allocatable_cpu_milli": alloc.cpu,
        "allocatable_memory_bytes": alloc.memory,
        "launch_seconds": it.launch_seconds,
    }


def list_providers(catalog: Catalog) -> list[CloudProvider]:
    return list(catalog.providers)


def get_provider(catalog: Catalog, provider_id: str) -> CloudProvider:
    provider = catalog.provider(provider_id)
    if provider is None:
        raise CloudProviderNotFound(
            f"no cloud provider '{provider_id}'; known: {', '.join(p.id for p in catalog.providers)}"
        )
    return provider


def check_region(catalog: Catalog, provider_id: str, region: str) -> None:
    """Raise a clear error unless ``region`` is one of ``provider_id``'s regions."""
    provider = catalog.provider(provider_id)
    if provider is None:
        known = ", ".join(p.id for p in catalog.providers)
        raise UnknownCloudProvider(
            f"unknown cloud provider '{provider_id}'; use one of: {known}",
            fields={"cloud_provider": f"unknown; use one of: {known}"},
        )
    regions = [r.id for r in provider.regions]
    if region not in regions:
        raise UnknownRegion(
            f"'{provider_id}' has no region '{region}'; use one of: {', '.join(regions)}",
            fields={"region": f"unknown for {provider_id}; use one of: {', '.join(regions)}"},
        )


def list_instance_types(
    catalog: Catalog, flt: InstanceTypeFilter, params: PageParams
) -> Page[InstanceType]:
    found = filter_instance_types(catalog.instance_types, flt)
    start = params.offset
    items = found[start : start + params.per_page]
    next_page = params.page + 1 if len(found) > start + params.per_page else None
    return make_page(items, params, next_page)


def get_instance_type(catalog: Catalog, provider: str, region: str, type_id: str) -> InstanceType:
    it = catalog.instance_type(provider, region, type_id)
    if it is None:
        raise InstanceTypeNotFound(f"no instance type '{type_id}' in {provider}/{region}")
    return it
