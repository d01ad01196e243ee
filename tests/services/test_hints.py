"""Hints wake controllers in this process and, through PostgreSQL, in the other replicas."""

from __future__ import annotations

import asyncio

from flotilla.services.hints import Hints, PgHintBridge
from flotilla.store.db import Database


async def test_a_hint_wakes_its_topic_only() -> None:
    hints = Hints()
    deployments, nodepools = hints.subscribe("deployments"), hints.subscribe("nodepools")
    hints.notify("deployments")
    assert deployments.is_set()
    assert not nodepools.is_set()


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
