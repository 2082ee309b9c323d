"""Processes started together on one fresh SQLite file (`wayline serve --workers N`, a
`wayline worker` beside a replica) migrate it once: each waits for the others' migration and
then finds the schema current, instead of failing on a table that already exists."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
MIGRATE = """
import asyncio, os, sys, time
from pathlib import Path
from wayline.core.db import Database
from wayline.core.settings import Settings
start = Path(sys.argv[1])
while not start.exists():  # all at once
    time.sleep(0.001)
db = Database(Settings(DATA_DIR=Path(sys.argv[2]), DATABASE_URL="sqlite:///" + sys.argv[3],
                       WEBUI_SECRET_KEY="x" * 40))

async def main() -> None:
    try:
        await db.migrate()
    finally:
        await db.dispose()

asyncio.run(main())
"""


def test_processes_starting_together_migrate_one_sqlite_file_once(tmp_path: Path) -> None:
    database = tmp_path / "wayline.db"
    start = tmp_path / "start"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, str(start), str(tmp_path / f"data{n}"), str(database)],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(4)
    ]
    try:
        time.sleep(3)  # every interpreter up and waiting (imports take ~1 s)
        start.touch()
        errors = [p.communicate(timeout=60)[1] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(errors)

    import sqlite3

    with sqlite3.connect(database) as conn:
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    versions = sorted((ROOT / "src" / "wayline" / "migrations" / "versions").glob("0*.py"))
    assert revision == versions[-1].stem
