"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, a service context with a
manual clock, and an API client over ASGI with the admin's token.

PostgreSQL is the local server (127.0.0.1:5432, trust auth). Outside CI a missing server skips
its tests with one line; with CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from flotilla.api.app import create_app
from flotilla.domain.time import ManualClock
from flotilla.services.bootstrap import bootstrap
from flotilla.services.context import Context
from flotilla.settings import Settings
from flotilla.store.db import Database
from flotilla.store.migrate import alembic_config
from flotilla.store.tables import Base

PG_ADMIN_URL = os.environ.get("FLOTILLA_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _migrate(sync_url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(sync_url), "head")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "flotilla.db"
    _migrate(f"sqlite:///{path}")
    return path


def _pg_available() -> str | None:
    import psycopg

    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return None
    except Exception as error:  # the reason is shown in the skip line
        return str(error).splitlines()[0]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A database of its own for this test run, migrated once; dropped at the end."""
    import psycopg

    problem = _pg_available()
    if problem:
        if IN_CI:
            pytest.fail(f"PostgreSQL is required under CI=true: {problem}")
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {problem}")
    name = f"flotilla_test_{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    _migrate(f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}")
    yield f"{base.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _truncate(sync_url: str) -> None:
    import psycopg

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with psycopg.connect(
        sync_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True
    ) as conn:
        conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "flotilla.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    """SQLite only, for tests of behaviour that does not depend on the database."""
    path = tmp_path / "flotilla.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(home=tmp_path / "home", database_url=database_url, run_migrations=False)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def ctx(settings: Settings, clock: ManualClock) -> AsyncIterator[Context]:
    db = Database(settings.sqlalchemy_url)
    context = Context(db=db, settings=settings, clock=clock)
    yield context
    await db.dispose()


@pytest.fixture
async def admin_token(ctx: Context) -> str:
    done = await bootstrap(ctx)
    assert done.admin_token is not None
    return done.admin_token


@pytest.fixture
async def client(ctx: Context, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The admin's client, over ASGI (the app's start-up work is done by ``admin_token``)."""
    app = create_app(ctx)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://flotilla.test",
        headers={"Authorization": f"Bearer {admin_token}"},
    ) as http:
        yield http


@pytest.fixture
def anonymous(client: httpx.AsyncClient) -> httpx.AsyncClient:
    """A client of the same app without a token."""
    return httpx.AsyncClient(transport=client._transport, base_url="http://flotilla.test")
