"""`wayline backup DEST` and `wayline restore SRC`, for the embedded default (SQLite).

A backup is a folder (or the same as a `.tar.gz`) holding `manifest.json`, `wayline.db` (a
consistent copy made with SQLite's online backup API, so the server may keep serving),
`uploads/` (the uploaded files) and, when the server generated one, `.webui_secret_key`.
The database is copied first: a file uploaded during the copy is an extra blob nobody
references, never a row without its bytes.

With `STORAGE_PROVIDER=s3` the uploads live in the bucket: they are not copied (the bucket is
backed up with its own tools, e.g. versioning or replication) and the manifest names where they
are (`uploads_in`).

`restore` refuses while a server has the database open, and refuses a non-empty DATA_DIR
unless `--force`; then what was there is moved aside into `DATA_DIR/pre-restore-<time>/`,
not deleted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wayline import __version__
from wayline.cli.common import CliError, load_settings, note
from wayline.cli.database import sqlite_path

if TYPE_CHECKING:
    from wayline.core.settings import Settings

FORMAT = "wayline-backup"
MANIFEST = "manifest.json"
DATABASE = "wayline.db"
UPLOADS = "uploads"
SECRET = ".webui_secret_key"
PARTIAL = ".part"  # a blob still being written by the server (`LocalBlobStore`)
S3 = "s3"


def register(sub: Any) -> None:
    backup = sub.add_parser(
        "backup",
        help="copy the database, uploads and secret key (SQLite) while serving",
        description=(
            "Back up DATA_DIR for the embedded SQLite database: a consistent copy of the "
            "database (safe while the server runs), the uploaded files and the generated "
            "secret key, into a new folder DEST or a DEST ending in .tar.gz. "
            "For PostgreSQL use pg_dump."
        ),
    )
    backup.add_argument("dest", metavar="DEST", help="a new folder, or a file ending in .tar.gz")
    backup.set_defaults(run=run_backup)

    restore = sub.add_parser(
        "restore",
        help="restore a backup into DATA_DIR (server stopped)",
        description=(
            "Restore a `wayline backup` (folder or .tar.gz) into DATA_DIR and the database "
            "file of DATABASE_URL. Refused while a server uses the database, and into a "
            "non-empty DATA_DIR unless --force (which moves the old contents aside)."
        ),
    )
    restore.add_argument("src", metavar="SRC", help="a backup folder or .tar.gz")
    restore.add_argument(
        "--force",
        action="store_true",
        help="restore over existing data (moved to DATA_DIR/pre-restore-<time>/ first)",
    )
    restore.set_defaults(run=run_restore)


def _sqlite() -> Any:
    from wayline.core.db import sqlite_module  # the driver the server uses (pysqlite3)

    return sqlite_module()


def _embedded(settings: Settings, verb: str) -> Path:
    path = sqlite_path(settings)
    if path is None:
        if settings.is_sqlite:
            raise CliError(f"{verb}: an in-memory database cannot be backed up or restored")
        raise CliError(
            f"{verb} handles the embedded SQLite database; DATABASE_URL is PostgreSQL: use "
            "pg_dump / pg_restore for it, and copy DATA_DIR/uploads (and "
            "DATA_DIR/.webui_secret_key, if there is one) alongside"
        )
    return path


def _is_archive(path: Path) -> bool:
    return path.name.endswith((".tar.gz", ".tgz"))


# --- backup ------------------------------------------------------------------------------------


def run_backup(args: argparse.Namespace) -> None:
    settings = load_settings()
    db_path = _embedded(settings, "backup")
    if not db_path.is_file():
        raise CliError(f"backup: no database at {db_path} (check DATA_DIR / DATABASE_URL)")
    dest = Path(args.dest)
    if dest.exists() and not (dest.is_dir() and not any(dest.iterdir())):
        raise CliError(f"backup: {dest} already exists; give a new path")
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".wayline-backup-", dir=dest.parent))
    try:
        manifest = _stage(settings, db_path, staging)
        if _is_archive(dest):
            partial = dest.with_name(dest.name + PARTIAL)
            with tarfile.open(partial, "w:gz") as tar:
                partial.chmod(0o600)  # it holds the secret key and every account's hashes
                for entry in sorted(staging.iterdir()):
                    tar.add(entry, arcname=entry.name)
            os.replace(partial, dest)
        else:
            if dest.exists():
                dest.rmdir()  # empty (checked above)
            os.replace(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        with contextlib.suppress(OSError):
            dest.with_name(dest.name + PARTIAL).unlink()
    secret = ", the secret key" if manifest["secret_key"] else ""
    if manifest["uploads_in"]:
        print(
            f"backed up the database ({manifest['database_bytes']} bytes){secret} to {dest}; "
            f"the uploaded files are in the bucket {manifest['uploads_in']} "
            "(STORAGE_PROVIDER=s3) and were not copied: back the bucket up with its own tools"
        )
        return
    print(
        f"backed up the database ({manifest['database_bytes']} bytes), "
        f"{manifest['uploads']} uploaded files{secret} to {dest}"
    )


def _stage(settings: Settings, db_path: Path, staging: Path) -> dict[str, Any]:
    copy = staging / DATABASE
    _copy_database(db_path, copy)
    if settings.STORAGE_PROVIDER == S3:
        uploads_in: str | None = _bucket_url(settings)
        uploads = 0
        (staging / UPLOADS).mkdir()
    else:
        uploads_in = None
        uploads = _copy_uploads(settings.DATA_DIR / UPLOADS, staging / UPLOADS)
    secret = settings.DATA_DIR / SECRET
    has_secret = secret.is_file()
    if has_secret:
        shutil.copy2(secret, staging / SECRET)
    manifest = {
        "format": FORMAT,
        "version": 1,
        "wayline": __version__,
        "created_at": int(time.time()),
        "database": DATABASE,
        "database_bytes": copy.stat().st_size,
        "revision": _revision(copy),
        "uploads": uploads,
        "uploads_in": uploads_in,
        "secret_key": has_secret,
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def _bucket_url(settings: Settings) -> str:
    prefix = settings.S3_KEY_PREFIX.strip("/")
    return f"s3://{settings.S3_BUCKET_NAME}/{prefix + '/' if prefix else ''}"


def _copy_database(source: Path, target: Path) -> None:
    """SQLite's online backup: one step, so the copy is the database at one instant; in WAL
    mode the server's readers and writers are not blocked meanwhile."""
    sqlite = _sqlite()
    src = sqlite.connect(str(source), timeout=30)
    try:
        dst = sqlite.connect(str(target))
        try:
            src.backup(dst, pages=0)
            dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            _check(dst, target)
        finally:
            dst.close()
    except sqlite.Error as exc:
        raise CliError(f"backup: could not copy the database {source}: {exc}") from None
    finally:
        src.close()


def _check(conn: Any, path: Path) -> None:
    result = conn.execute("PRAGMA quick_check").fetchone()[0]
    if result != "ok":
        raise CliError(f"the database copy {path} is damaged: {result}")


def _revision(path: Path) -> str | None:
    sqlite = _sqlite()
    conn = sqlite.connect(str(path))
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        return None if row is None else str(row[0])
    except sqlite.Error:
        return None
    finally:
        conn.close()


def _copy_uploads(source: Path, target: Path) -> int:
    """The uploaded files; one deleted while we copy is skipped, a half-written one too."""
    target.mkdir()
    count = 0
    if not source.is_dir():
        return count
    for entry in sorted(source.iterdir()):
        if entry.name.endswith(PARTIAL) or not entry.is_file():
            continue
        try:
            shutil.copy2(entry, target / entry.name)
        except FileNotFoundError:
            continue
        count += 1
    return count


# --- restore -----------------------------------------------------------------------------------


def run_restore(args: argparse.Namespace) -> None:
    settings = load_settings()
    db_path = _embedded(settings, "restore")
    source = Path(args.src)
    if not source.exists():
        raise CliError(f"restore: {source} does not exist")
    data_dir = settings.DATA_DIR
    if _in_use(db_path):
        raise CliError(
            f"restore: a running server (or another process) has {db_path} open; stop it first"
        )
    existing = _existing(data_dir, db_path)
    if existing and not args.force:
        raise CliError(
            f"restore: {data_dir} is not empty ({', '.join(existing)}); "
            "pass --force to move its contents aside and restore over it"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    with _unpacked(source, data_dir) as backup:
        manifest = _manifest(backup)
        _verify(backup / DATABASE)
        aside = _move_aside(data_dir, db_path) if existing else None
        _restore_files(backup, data_dir, db_path)
    moved = f"; what was there is in {aside}" if aside else ""
    print(
        f"restored the database to {db_path} and {manifest.get('uploads', 0)} uploaded files "
        f"to {data_dir / UPLOADS}{moved}"
    )
    if manifest.get("uploads_in"):
        note(
            f"note: the uploaded files were not in the backup: they are in the bucket "
            f"{manifest['uploads_in']}; serve with STORAGE_PROVIDER=s3 and that bucket"
        )
    if manifest.get("secret_key") and settings.WEBUI_SECRET_KEY:
        note(
            f"note: WEBUI_SECRET_KEY is set, so the restored {SECRET} is not used: "
            "sessions signed with it must sign in again"
        )


def _in_use(db_path: Path) -> bool:
    """Whether another connection has the database open: the server keeps its connections
    (each holds a shared lock in WAL mode), so an exclusive lock is then refused at once."""
    if not db_path.exists():
        return False
    sqlite = _sqlite()
    conn = sqlite.connect(str(db_path), timeout=0, isolation_level=None)
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            return True
        raise CliError(f"restore: cannot open {db_path}: {exc}") from None
    finally:
        conn.close()


def _sidecars(db_path: Path) -> list[Path]:
    return [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm", "-journal"))]


def _existing(data_dir: Path, db_path: Path) -> list[str]:
    names = sorted(entry.name for entry in data_dir.iterdir()) if data_dir.is_dir() else []
    if db_path.exists() and db_path.parent.resolve() != data_dir.resolve():
        names.append(str(db_path))
    return names


@contextlib.contextmanager
def _unpacked(source: Path, data_dir: Path) -> Iterator[Path]:
    """The backup as a folder: `source` itself, or a `.tar.gz` unpacked next to DATA_DIR."""
    if source.is_dir():
        yield source
        return
    if not tarfile.is_tarfile(source):
        raise CliError(f"restore: {source} is neither a backup folder nor a .tar.gz")
    scratch = Path(tempfile.mkdtemp(prefix=".wayline-restore-", dir=data_dir.parent))
    try:
        with tarfile.open(source, "r:*") as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(scratch, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                for member in tar.getmembers():
                    if not (member.isfile() or member.isdir()) or ".." in Path(member.name).parts:
                        raise CliError(f"restore: {source} holds an unsafe entry {member.name!r}")
                tar.extractall(scratch)
        yield scratch
    except tarfile.TarError as exc:
        raise CliError(f"restore: cannot unpack {source}: {exc}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _manifest(backup: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CliError(f"restore: {backup} is not a wayline backup (no valid {MANIFEST})")
    if not (backup / DATABASE).is_file():
        raise CliError(f"restore: the backup lacks its database ({DATABASE})")
    return manifest


def _verify(path: Path) -> None:
    sqlite = _sqlite()
    try:
        conn = sqlite.connect(str(path))
        try:
            _check(conn, path)
        finally:
            conn.close()
    except sqlite.Error as exc:
        raise CliError(f"restore: the backup's database is not usable: {exc}") from None


def _move_aside(data_dir: Path, db_path: Path) -> Path:
    aside = data_dir / time.strftime("pre-restore-%Y%m%d-%H%M%S")
    aside.mkdir()
    for entry in list(data_dir.iterdir()):
        if entry != aside and not entry.name.startswith("pre-restore-"):
            shutil.move(str(entry), aside / entry.name)
    for path in _sidecars(db_path):
        if path.exists():
            shutil.move(str(path), aside / path.name)
    return aside


def _restore_files(backup: Path, data_dir: Path, db_path: Path) -> None:
    db_path.parent.mkdir(parents=True, exist_ok=True)
    partial = db_path.with_name(db_path.name + PARTIAL)
    shutil.copyfile(backup / DATABASE, partial)
    os.replace(partial, db_path)
    uploads = data_dir / UPLOADS
    uploads.mkdir(exist_ok=True)
    if (backup / UPLOADS).is_dir():
        for entry in (backup / UPLOADS).iterdir():
            if entry.is_file():
                shutil.copy2(entry, uploads / entry.name)
    if (backup / SECRET).is_file():
        shutil.copy2(backup / SECRET, data_dir / SECRET)
        (data_dir / SECRET).chmod(0o600)
