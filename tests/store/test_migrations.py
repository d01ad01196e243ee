"""The migrations build exactly the schema the code's tables describe, both ways."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from flotilla.store.db import Database
from flotilla.store.migrate import alembic_config, current_revision
from flotilla.store.tables import Base


async def _diff(db: Database) -> list[object]:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
            )
        )


async def test_migrated_schema_matches_the_tables_in_code(database_url: str) -> None:
    db = Database(database_url)
    try:
        assert await current_revision(db) is not None
        assert await _diff(db) == []
    finally:
        await db.dispose()


def test_migrations_downgrade_to_nothing_and_upgrade_again(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    config = alembic_config(url)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    command.upgrade(config, "head")
