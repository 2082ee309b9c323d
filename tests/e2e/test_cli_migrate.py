"""`wayline --help`, `--version` and `wayline migrate [--check]`, run as the operator runs them:
a subprocess with settings from the environment."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.e2e.cli import cli_env, one_line_failure, wayline
from wayline import __version__

pytestmark = pytest.mark.e2e

REVISIONS = ["0001_foundation", "0002_models_functions", "0003_files", "0004_knowledge"]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return cli_env(tmp_path / "data", f"sqlite:///{tmp_path / 'data' / 'wayline.db'}")


def test_help_lists_every_command_and_version(env: dict[str, str]):
    proc = wayline("--help", env=env)
    assert proc.returncode == 0
    for command in ("serve", "migrate", "user", "key", "config", "ingest", "backup", "restore"):
        assert f"    {command} " in proc.stdout, command
    assert wayline("--version", env=env).stdout.strip() == f"wayline {__version__}"
    for group, commands in (
        ("user", ("create", "list", "set-role", "reset-password")),
        ("key", ("create", "list", "revoke")),
    ):
        text = wayline(group, "--help", env=env).stdout
        assert all(command in text for command in commands), text


def test_migrate_check_exit_codes(tmp_path: Path, env: dict[str, str]):
    db = tmp_path / "data" / "wayline.db"
    # No database yet: every migration is pending, and checking creates nothing.
    line = one_line_failure(wayline("migrate", "--check", env=env))
    assert all(rev in line for rev in REVISIONS), line
    assert not db.exists() and not (tmp_path / "data").exists()

    # The commands that need the schema refuse, and say what to run.
    line = one_line_failure(wayline("user", "list", env=env))
    assert "wayline migrate" in line and not db.exists()

    done = wayline("migrate", env=env)
    assert done.returncode == 0, done.stderr
    assert "0004_knowledge" in done.stdout and done.stderr == ""
    assert db.exists()
    check = wayline("migrate", "--check", env=env)
    assert check.returncode == 0 and "at head" in check.stdout, check.stderr
    again = wayline("migrate", env=env)
    assert again.returncode == 0 and "already at head" in again.stdout

    # One migration behind: --check names exactly that one; user commands refuse.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0003_files'")
    line = one_line_failure(wayline("migrate", "--check", env=env))
    assert "0004_knowledge" in line and "0003_files" not in line, line
    line = one_line_failure(wayline("user", "list", env=env))
    assert "pending: 0004_knowledge" in line and "wayline migrate" in line

    # Migrated by a newer wayline: named, not guessed at.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_future'")
    line = one_line_failure(wayline("migrate", "--check", env=env))
    assert "0099_future" in line and "newer version" in line


def test_invalid_settings_stop_a_command_in_one_line_each(env: dict[str, str]):
    proc = wayline("migrate", "--check", env={**env, "PORT": "http"})
    line = one_line_failure(proc, code=2)
    assert line.startswith("wayline: PORT='http' is invalid")


def test_an_unreachable_database_is_one_line(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = cli_env(tmp_path / "data", f"sqlite:///{blocker / 'wayline.db'}")
    line = one_line_failure(wayline("migrate", env=env))
    assert line.startswith(f"wayline: cannot open the database at {blocker}"), line
    garbage = tmp_path / "garbage.db"
    garbage.write_text("not a database")
    env = cli_env(tmp_path / "data", f"sqlite:///{garbage}")
    line = one_line_failure(wayline("migrate", "--check", env=env))
    assert (
        line
        == f"wayline: cannot open the database at {garbage}: DatabaseError: file is not a database"
    )
