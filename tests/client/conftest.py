"""The SDK against a live server (see ``live``), and against the ASGI app in-process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import flotilla
from tests.client.live import User, live, user

__all__ = ["client", "live", "user"]


@pytest.fixture
def client(user: User) -> Iterator[flotilla.Client]:
    """The SDK acting as this test's user, over a real socket."""
    with flotilla.Client(
        user.live.url, user.token, gateway_url=user.live.gateway_url, timeout=10
    ) as sdk:
        yield sdk
