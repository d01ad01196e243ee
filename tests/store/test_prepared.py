"""Prepared statements run on the bare driver give what SQLAlchemy's execution gives."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flotilla.services.context import Context
from flotilla.store.prepared import PointQuery, Prepared, execute, execute_many, fetch
from flotilla.store.tables import NodepoolRow, NodeRow
from tests.factories import add_running_node, create_cluster, create_nodepool

_N = NodeRow.__table__.c
_NODES = sa.select(
    _N.id,
    _N.price_per_hour,  # float
    _N.cordoned,  # boolean: an integer in SQLite
    _N.created_at,  # aware UTC datetime
    _N.capacity,  # JSON
    _N.state,
).where(
    _N.state.in_(["ready", "launching"]),  # a fixed IN list
    _N.created_at <= sa.bindparam("until", type_=_N.created_at.type),  # a converted parameter
)


async def _two_nodes(client: httpx.AsyncClient, ctx: Context) -> None:
    await create_cluster(client, "east")
    await create_nodepool(client, "east", "pool")
    await add_running_node(ctx, "east", "pool")
    await add_running_node(ctx, "east", "pool")
    async with ctx.db.write() as s:
        await s.execute(sa.update(NodeRow).values(capacity={"cpu": "4", "gpus": [1, 2]}))


async def test_fetch_gives_the_rows_and_values_sqlalchemy_gives(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await _two_nodes(client, ctx)
    until = ctx.now() + timedelta(seconds=1)
    query = Prepared(_NODES)

    def both(s: Session) -> tuple[list[Any], list[Any]]:
        return (
            [tuple(row) for row in fetch(s, query, {"until": until})],
            [tuple(row) for row in s.execute(_NODES, {"until": until}).all()],
        )

    bare, orm = await ctx.db.read_in_thread(both)
    assert len(bare) == 2
    assert sorted(bare) == sorted(orm)
    created = bare[0][3]
    assert created.tzinfo is not None and created.utcoffset() == timedelta(0)
    assert bare[0][4] == {"cpu": "4", "gpus": [1, 2]}
    assert bare[0][2] is False

    earlier = ctx.now() - timedelta(hours=1)
    none = await ctx.db.read_in_thread(lambda s: fetch(s, query, {"until": earlier}))
    assert none == []


async def test_a_point_query_reads_named_rows_without_a_session(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await _two_nodes(client, ctx)
    row = await ctx.db.read_point(PointQuery(_NODES), until=ctx.now())
    assert row is not None and row.state == "ready" and row.capacity["cpu"] == "4"


async def test_an_in_parameter_takes_lists_of_any_length(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await _two_nodes(client, ctx)
    query = Prepared(
        sa.select(_N.id)
        .where(_N.pk.in_(sa.bindparam("pks", expanding=True)), _N.state == sa.bindparam("state"))
        .order_by(_N.pk)
    )

    def ids(s: Session, pks: list[int]) -> list[str]:
        return [nid for (nid,) in fetch(s, query, {"pks": pks, "state": "ready"})]

    both = await ctx.db.read_in_thread(lambda s: ids(s, [1, 2, 3]))
    assert len(both) == 2
    assert await ctx.db.read_in_thread(lambda s: ids(s, [2])) == both[1:]
    assert await ctx.db.read_in_thread(lambda s: ids(s, [])) == []
    with pytest.raises(ValueError, match="no value given for state"):
        await ctx.db.read_in_thread(lambda s: fetch(s, query, {"pks": [1]}))


async def test_execute_counts_rows_and_execute_many_converts_each_parameter_set(
    client: httpx.AsyncClient, ctx: Context
) -> None:
    await _two_nodes(client, ctx)
    c = NodepoolRow.__table__.c
    rename = Prepared(
        sa.update(NodepoolRow.__table__)
        .where(c.id == sa.bindparam("b_id"))
        .values(description=sa.bindparam("text"))
    )
    retype = Prepared(
        sa.update(NodepoolRow.__table__)
        .where(c.id == sa.bindparam("b_id"))
        .values(instance_types=sa.bindparam("types", type_=c.instance_types.type))
    )

    def write(s: Session) -> tuple[int, int]:
        touched = execute(s, rename, {"b_id": "pool", "text": "renamed"})
        missing = execute(s, rename, {"b_id": "no-such-pool", "text": "x"})
        execute_many(s, retype, [{"b_id": "pool", "types": ["a", "b"]}])
        return touched, missing

    assert await ctx.db.write_in_thread(write) == (1, 0)
    async with ctx.db.read() as s:
        pool = (
            await s.execute(sa.select(NodepoolRow).where(NodepoolRow.id == "pool"))
        ).scalar_one()
    assert pool.description == "renamed"
    assert pool.instance_types == ["a", "b"]
