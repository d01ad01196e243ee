"""Alembic environment: runs on the connection ``flotilla.store.migrate`` hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from flotilla.store.tables import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # offline use: alembic -x, or `flotilla db sql`
        url = config.get_main_option("sqlalchemy.url")
        if url is None:
            raise RuntimeError("no connection and no sqlalchemy.url given to Alembic")
        sync_url = url.replace("+aiosqlite", "").replace("+psycopg", "+psycopg")
        with create_engine(sync_url).begin() as conn:
            _run_on(conn)
        return
    _run_on(connection)


def _run_on(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
