"""A signed-in console over ASGI, next to the admin's API client (which makes test data).

The console's pages are rendered from the same services the API tests run on SQLite and on
PostgreSQL; what is tested here is the console itself, so its tests run on SQLite only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from tests.console.browsing import console_client, sign_in


@pytest.fixture
def database_url(sqlite_url: str) -> str:
    return sqlite_url


@dataclass
class Console:
    http: httpx.AsyncClient
    csrf: str


@pytest.fixture
async def console(client: httpx.AsyncClient, admin_token: str) -> AsyncIterator[Console]:
    """The admin, signed in to the console."""
    async with console_client(client) as http:
        csrf = await sign_in(http, admin_token)
        yield Console(http=http, csrf=csrf)
