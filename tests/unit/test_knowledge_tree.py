"""`knowledge.tree`: folder paths and the sync diff, on hand-built trees."""

from __future__ import annotations

from wayline.knowledge.tree import (
    Folder,
    StoredFile,
    Wanted,
    ancestors,
    diff,
    folder_paths,
    subtree,
)

DOCS = Folder("d1", None, "docs")
API = Folder("d2", "d1", "api")
OLD = Folder("d3", None, "old")
DEEP = Folder("d4", "d3", "deeper")


def stored(file_id: str, name: str, folder: str | None, checksum: str, **kw) -> StoredFile:
    return StoredFile(
        file_id=file_id,
        filename=name,
        directory_id=folder,
        checksum=checksum,
        failed=kw.get("failed", False),
        linked_at=kw.get("linked_at", 1),
    )


def test_paths_breadcrumbs_and_subtrees() -> None:
    folders = [DOCS, API, OLD, DEEP]
    assert folder_paths(folders) == {
        "d1": "docs",
        "d2": "docs/api",
        "d3": "old",
        "d4": "old/deeper",
    }
    assert [f.id for f in ancestors("d2", folders)] == ["d1", "d2"]
    assert ancestors(None, folders) == []
    assert sorted(subtree("d3", folders)) == ["d3", "d4"]
    # A parent that is gone ends the path there instead of failing.
    assert folder_paths([Folder("x", "missing", "orphan")]) == {"x": "orphan"}


def test_diff_of_a_nested_tree() -> None:
    files = [
        stored("f-readme", "README.md", None, "h1"),
        stored("f-auth", "auth.md", "d2", "h2"),
        stored("f-gone", "gone.md", "d4", "h3"),
    ]
    manifest = [
        Wanted("README.md", "", "h1"),  # unchanged
        Wanted("auth.md", "docs/api", "h2-new"),  # changed
        Wanted("new.md", "docs/api/v2/beta", "h4"),  # new, three folders down
    ]
    result = diff(manifest, [DOCS, API, OLD, DEEP], files)
    assert result.unmodified_count == 1
    assert result.modified == [("auth.md", "docs/api", "f-auth")]
    assert result.added == [("new.md", "docs/api/v2/beta")]
    assert result.deleted == [("f-gone", "gone.md")]
    assert result.mkdir == ["docs/api/v2", "docs/api/v2/beta"]  # parents first
    assert result.rmdir == ["d3", "d4"]  # parents first: clients remove them in reverse
    assert result.directory_map == {
        "docs": "d1",
        "docs/api": "d2",
        "old": "d3",
        "old/deeper": "d4",
    }


def test_a_failed_file_is_uploaded_again_and_duplicates_are_removed() -> None:
    files = [
        stored("f-failed", "a.md", None, "h1", failed=True),
        stored("f-old", "b.md", None, "h2", linked_at=1),
        stored("f-new", "b.md", None, "h2", linked_at=2),
    ]
    result = diff([Wanted("a.md", "", "h1"), Wanted("b.md", "", "h2")], [], files)
    assert result.modified == [("a.md", "", "f-failed")]
    assert result.unmodified_count == 1  # the newest b.md stands for the key
    assert result.deleted == [("f-old", "b.md")]


def test_same_name_in_two_folders_are_two_files() -> None:
    files = [stored("f1", "index.md", "d1", "h"), stored("f2", "index.md", None, "h")]
    result = diff([Wanted("index.md", "docs", "h"), Wanted("index.md", "", "h")], [DOCS], files)
    assert result.unmodified_count == 2 and not result.added and not result.deleted
