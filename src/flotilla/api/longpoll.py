"""Long polls: hold an answer until a hint wakes it, time runs out, or the caller goes away."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.requests import Request


async def disconnected(request: Request) -> None:
    """Completes when the client closes its connection (the body has been read already)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def wait_any(events: list[asyncio.Event], gone: asyncio.Future[None], seconds: float) -> None:
    """Until one of ``events`` is set, the caller is ``gone``, or ``seconds`` pass."""
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(event.wait()) for event in events]
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait(
                [*waiters, gone], timeout=seconds, return_when=asyncio.FIRST_COMPLETED
            )
    finally:
        for waiter in waiters:
            waiter.cancel()
