"""The autoscaler's traffic windows: in-flight averages and arrival rates over exactly the window."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from flotilla.services import traffic
from flotilla.services.context import Context
from flotilla.store.tables import DeploymentRow
from tests.factories import create_cluster, create_deployment, create_nodepool, upload_model


async def test_a_window_averages_in_flight_and_prorates_arrivals_of_samples_it_cuts(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await create_cluster(client, "gpu-east")
    await create_nodepool(client, "gpu-east", "a10-pool")
    await upload_model(client)
    await create_deployment(client, "web")
    async with ctx.db.write() as s:
        pk = await s.scalar(sa.select(DeploymentRow.pk).where(DeploymentRow.id == "web"))
        assert pk is not None
        await traffic.record(
            s,
            "gateway-a",
            [
                traffic.Sample(pk, 1000.0, 1010.0, in_flight=2.0, arrivals=100, held=0),
                traffic.Sample(pk, 1010.0, 1020.0, in_flight=6.0, arrivals=300, held=0),
            ],
        )
    async with ctx.db.read() as s:
        found = await s.run_sync(lambda sync: traffic.windows(sync, 1020.0, 15.0))
    window = found[pk]
    assert window.covered_seconds == pytest.approx(15.0)
    assert window.average == pytest.approx((2.0 * 5 + 6.0 * 10) / 15)
    # half of the first sample lies inside: 50 of its 100 arrivals, and all 300 of the second
    assert window.arrival_rate == pytest.approx(350 / 15)
