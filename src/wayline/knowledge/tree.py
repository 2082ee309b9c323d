"""A collection's folder tree, and the sync diff against a client's manifest (no I/O here).

A folder's path is its ancestors' names and its own, joined by "/"; a file's key is
(folder path, filename), "" being the root. The diff answers Open WebUI 0.12's
`/sync/diff`: what to upload (`added`, `modified` with the file it replaces), what to
remove (`deleted`, `rmdir`), which folders to create (`mkdir`), and the folders that exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Folder:
    id: str
    parent_id: str | None
    name: str


@dataclass(frozen=True)
class StoredFile:
    """A file linked in the collection, as the diff needs it."""

    file_id: str
    filename: str
    directory_id: str | None
    checksum: str | None  # `meta.file_hash`: what the client sent, or the SHA-256 of the bytes
    failed: bool  # processing failed: never counted as in place
    linked_at: int


@dataclass(frozen=True)
class Wanted:
    """One manifest entry."""

    filename: str
    path: str
    checksum: str


@dataclass
class Diff:
    added: list[tuple[str, str]] = field(default_factory=list)  # (filename, path)
    modified: list[tuple[str, str, str]] = field(default_factory=list)  # + stale file id
    deleted: list[tuple[str, str]] = field(default_factory=list)  # (file id, filename)
    mkdir: list[str] = field(default_factory=list)
    rmdir: list[str] = field(default_factory=list)
    unmodified_count: int = 0
    directory_map: dict[str, str] = field(default_factory=dict)


def folder_paths(folders: Iterable[Folder]) -> dict[str, str]:
    """Each folder's path, by id. A parent that is missing (or a cycle, which the writes
    prevent) ends the walk there, as Open WebUI's does."""
    by_id = {f.id: f for f in folders}
    paths: dict[str, str] = {}
    for folder in by_id.values():
        names, seen, current = [folder.name], {folder.id}, folder.parent_id
        while current and current not in seen and current in by_id:
            seen.add(current)
            names.append(by_id[current].name)
            current = by_id[current].parent_id
        paths[folder.id] = "/".join(reversed(names))
    return paths


def ancestors(folder_id: str | None, folders: Iterable[Folder]) -> list[Folder]:
    """The folder and its ancestors, root first (Open WebUI's breadcrumbs)."""
    by_id = {f.id: f for f in folders}
    chain: list[Folder] = []
    seen: set[str] = set()
    while folder_id and folder_id not in seen and folder_id in by_id:
        seen.add(folder_id)
        chain.append(by_id[folder_id])
        folder_id = by_id[folder_id].parent_id
    return list(reversed(chain))


def subtree(folder_id: str, folders: Iterable[Folder]) -> list[str]:
    """The folder's id and every descendant's."""
    children: dict[str | None, list[str]] = {}
    for f in folders:
        children.setdefault(f.parent_id, []).append(f.id)
    found, stack = [], [folder_id]
    while stack:
        current = stack.pop()
        if current in found:
            continue
        found.append(current)
        stack.extend(children.get(current, ()))
    return found


def _prefixes(path: str) -> list[str]:
    segments = path.split("/")
    return ["/".join(segments[: depth + 1]) for depth in range(len(segments))]


def _depth_first_parents(paths: Iterable[str]) -> list[str]:
    return sorted(paths, key=lambda p: (p.count("/"), p))


def diff(
    manifest: Sequence[Wanted], folders: Sequence[Folder], files: Sequence[StoredFile]
) -> Diff:
    """What a sync must do to make the collection hold exactly `manifest`.

    A stored file counts as in place when its key is in the manifest with the same checksum
    and its processing did not fail (a failed one is `modified`: the client uploads it again
    and the cleanup removes the failed file). Two linked files with one key (two uploads that
    raced): the newest stands for the key, the others are `deleted`."""
    paths = folder_paths(folders)
    result = Diff(directory_map={path: folder_id for folder_id, path in paths.items()})

    stored: dict[tuple[str, str], StoredFile] = {}
    for f in sorted(files, key=lambda f: (f.linked_at, f.file_id), reverse=True):
        key = (paths.get(f.directory_id, "") if f.directory_id else "", f.filename)
        if key in stored:
            result.deleted.append((f.file_id, f.filename))
        else:
            stored[key] = f

    wanted_keys: set[tuple[str, str]] = set()
    for entry in manifest:
        key = (entry.path, entry.filename)
        wanted_keys.add(key)
        current = stored.get(key)
        if current is None:
            result.added.append((entry.filename, entry.path))
        elif current.failed or current.checksum != entry.checksum:
            result.modified.append((entry.filename, entry.path, current.file_id))
        else:
            result.unmodified_count += 1
    result.deleted.extend(
        (f.file_id, f.filename) for key, f in stored.items() if key not in wanted_keys
    )

    needed = {prefix for entry in manifest if entry.path for prefix in _prefixes(entry.path)}
    result.mkdir = _depth_first_parents(needed - result.directory_map.keys())
    result.rmdir = [
        result.directory_map[p] for p in _depth_first_parents(result.directory_map.keys() - needed)
    ]
    return result
