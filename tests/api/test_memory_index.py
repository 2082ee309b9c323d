"""The in-memory copy of the index (vectors/memory.py) stays the database's copy.

Two app instances on one database stand for two replicas: what one writes (a new file, a
content update, a delete, a cleared index) the other's searches see at once, without a
restart; and the copy answers exactly what the database itself answers (same chunks, same
cosines) when vectors alone decide.
"""

from __future__ import annotations

from tests.api.test_retrieval import BREAD, ENGINE, ZEBRA, collection, upload
from wayline.files.service import FilesRuntime
from wayline.vectors import MemoryIndex

R = "/api/v1/retrieval"


def query(client, account, kid: str, text: str, k: int = 5, **extra) -> dict:
    r = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": text, "k": k, **extra},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


def memory_index(client) -> MemoryIndex:
    index = client.app.state.wayline.get(FilesRuntime).index
    assert isinstance(index, MemoryIndex)
    return index


def files_in_copy(client) -> set[str]:
    mirror = memory_index(client)._mirror
    assert mirror is not None and mirror.dimensions == 384  # searches ran on the copy
    return set(mirror.current)


def test_a_second_replica_sees_every_change_at_once(make_client, settings, admin, alice):
    first = make_client(settings)  # the `client` fixture's app is a third, idle replica
    second = make_client(settings)
    engine = upload(first, alice, "engine.txt", ENGINE)
    kid = collection(first, alice, engine["id"])
    assert query(second, alice, kid, "turbofan jet noise")["documents"][0] == [ENGINE]
    assert files_in_copy(second) == {engine["id"]}

    # A new file in the collection, indexed by the first replica.
    zebra = upload(first, alice, "zebra.txt", ZEBRA)
    r = first.post(
        f"/api/v1/knowledge/{kid}/file/add", json={"file_id": zebra["id"]}, headers=alice.headers
    )
    assert r.status_code == 200
    assert query(second, alice, kid, "zebra convoy indigo")["documents"][0][0] == ZEBRA
    assert files_in_copy(second) == {engine["id"], zebra["id"]}

    # The file's text replaced: the old text is gone from the other replica's answers.
    r = first.post(
        f"/api/v1/files/{zebra['id']}/data/content/update",
        json={"content": BREAD},
        headers=alice.headers,
    )
    assert r.status_code == 200
    documents = query(second, alice, kid, "zebra sourdough bread", k=10)["documents"][0]
    assert BREAD in documents and ZEBRA not in documents

    # Deleted: never returned again, though its vectors were in the second copy.
    assert first.delete(f"/api/v1/files/{zebra['id']}", headers=alice.headers).status_code == 200
    assert BREAD not in query(second, alice, kid, "sourdough bread", k=10)["documents"][0]
    assert files_in_copy(second) == {engine["id"]}


def test_clearing_the_index_reaches_the_other_replica(make_client, settings, admin, alice):
    """An admin's "delete all files" clears the other replica's copy too (reloaded in full, so
    the old vectors do not stay in its memory)."""
    first, second = make_client(settings), make_client(settings)
    engine = upload(first, alice, "engine.txt", ENGINE)
    kid = collection(first, alice, engine["id"])
    assert query(second, alice, kid, "turbofan")["documents"][0] == [ENGINE]
    assert files_in_copy(second) == {engine["id"]}
    assert first.delete("/api/v1/files/all", headers=admin.headers).status_code == 200
    bread = upload(first, alice, "bread.txt", BREAD)
    kid = collection(first, alice, bread["id"])
    assert query(second, alice, kid, "turbofan bread")["documents"][0] == [BREAD]
    assert files_in_copy(second) == {bread["id"]}


def test_the_copy_answers_what_the_database_answers(make_client, make_settings, admin, alice):
    memory = make_client(make_settings())
    database = make_client(make_settings(VECTOR_MEMORY_MAX_CHUNKS=0))
    long_text = "\n\n".join([(ENGINE + " ") * 8, BREAD * 5, ZEBRA * 4])
    files = [
        upload(memory, alice, name, text)["id"]
        for name, text in [("a.txt", long_text), ("b.txt", ENGINE), ("c.txt", BREAD + ZEBRA)]
    ]
    kid = collection(memory, alice, *files)
    for text in ["jet noise of turbofan engines", "yeast in bread", "harbour at dawn"]:
        both = [query(client, alice, kid, text, k=6, hybrid=False) for client in (memory, database)]
        assert both[0]["ids"] == both[1]["ids"], text
        for ours, theirs in zip(both[0]["distances"][0], both[1]["distances"][0], strict=True):
            assert abs(ours - theirs) < 1e-5
    assert files_in_copy(memory) == set(files)
    assert memory_index(database)._mirror is None
