"""Start-up skips Alembic when the database is already at the newest migration; the newest one
is known from the file names, so the naming convention is held to Alembic's own view here."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from wayline.core import db as db_module
from wayline.core.db import MIGRATIONS, Database, newest_revision


def test_file_names_are_revision_ids_and_the_newest_is_alembics_head() -> None:
    script = ScriptDirectory(str(MIGRATIONS))
    for revision in script.walk_revisions():
        assert revision.path is not None
        assert Path(revision.path).stem == revision.revision
    assert script.get_heads() == [newest_revision()]


async def test_a_migrated_database_is_not_migrated_again(
    make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'head.db'}")
    first = Database(settings)
    await first.migrate()  # a fresh file: Alembic creates every table
    await first.dispose()

    def must_not_run(connection: object) -> None:
        raise AssertionError("Alembic ran on a database already at the newest revision")

    monkeypatch.setattr(db_module, "_upgrade_to_head", must_not_run)
    again = Database(settings)
    await again.migrate()
    async with again.engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
    await again.dispose()
    assert version == newest_revision()

    older = Database(make_settings(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}"))
    with pytest.raises(AssertionError, match="Alembic ran"):  # a fresh database does migrate
        await older.migrate()
    await older.dispose()
