"""The catalog tables hold the shipped catalog after every start, once."""

from __future__ import annotations

import sqlalchemy as sa

from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Context
from flotilla.store.tables import CloudProviderRow, InstanceTypeRow, RegionRow


async def test_every_start_leaves_exactly_the_shipped_catalog_in_the_store(ctx: Context) -> None:
    await bootstrap(ctx)
    await bootstrap(ctx)  # a second start replaces, never duplicates
    async with ctx.db.read() as session:
        providers = set(await session.scalars(sa.select(CloudProviderRow.id)))
        regions = (await session.scalar(sa.select(sa.func.count()).select_from(RegionRow))) or 0
        rows = (await session.execute(sa.select(InstanceTypeRow))).scalars().all()
    assert providers == {p.id for p in ctx.catalog.providers}
    assert regions == sum(len(p.regions) for p in ctx.catalog.providers)
    assert len(rows) == len(ctx.catalog.instance_types)
    g5 = next(
        r for r in rows if (r.provider_id, r.region_id, r.id) == ("aws", "us-east-1", "g5.xlarge")
    )
    shipped = ctx.catalog.instance_type("aws", "us-east-1", "g5.xlarge")
    assert shipped is not None
    assert (g5.cpu_milli, g5.accelerators, g5.accelerator_type) == (4000, 1, "NVIDIA-A10G")
    assert g5.allowed_capacity_types == ["spot", "on_demand"]
    assert g5.price_spot == shipped.price_per_hour.spot
    assert g5.allocatable_memory_bytes == shipped.allocatable.memory
