"""Hints wake controllers in this process and, through PostgreSQL, in the other replicas."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from flotilla.services.context import Context
from flotilla.services.hints import Hints, PgHintBridge
from flotilla.store.db import Database


async def test_a_hint_wakes_its_topic_only() -> None:
    hints = Hints()
    deployments, nodepools = hints.subscribe("deployments"), hints.subscribe("nodepools")
    hints.notify("deployments")
    assert deployments.is_set()
    assert not nodepools.is_set()


async def test_a_hint_sent_in_a_write_wakes_only_once_it_committed(ctx: Context) -> None:
    hints = Hints()
    woken = hints.subscribe("deployments")
    async with ctx.db.write() as session:
        await session.execute(sa.text("SELECT 1"))
        hints.notify("deployments")
        assert not woken.is_set()  # a waiter woken now might not see this transaction's rows
    assert woken.is_set()


async def test_a_hint_sent_in_a_write_that_rolls_back_wakes_no_one(ctx: Context) -> None:
    hints = Hints()
    woken = hints.subscribe("deployments")

    async def failing_request() -> None:
        async with ctx.db.write():
            hints.notify("deployments")
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    assert not woken.is_set()


async def test_a_hint_reaches_another_server_through_postgresql(pg_database: str) -> None:
    url = Database(pg_database).libpq_url
    here, there = Hints(), Hints()
    sender, receiver = PgHintBridge(here, url), PgHintBridge(there, url)
    receiver.start()
    sender.start()
    woken = there.subscribe("deployments")
    try:
        for _ in range(50):  # the listener needs a moment to connect
            here.notify("deployments")
            try:
                await asyncio.wait_for(woken.wait(), timeout=0.2)
                break
            except TimeoutError:
                continue
        assert woken.is_set()
    finally:
        await sender.close()
        await receiver.close()
