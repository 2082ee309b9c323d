"""`/api/v1/retrieval` and files in collections: search quality basics, shapes, access, config."""

from __future__ import annotations

import time

import pytest

from wayline.core.errors import DUPLICATE_CONTENT

K = "/api/v1/knowledge"
R = "/api/v1/retrieval"

ZEBRA = (
    "The quartermaster's ledger says the zebra convoy left Umbridge harbour at dawn carrying "
    "seventeen crates of indigo."
)
ENGINE = (
    "Turbofan engines mix bypass air with the core exhaust to reduce jet noise and improve "
    "propulsive efficiency."
)
BREAD = (
    "Sourdough bread rises because wild yeast and lactobacilli ferment the flour, producing gas "
    "and acidity."
)


def upload(client, account, name: str, text: str, background: bool = False) -> dict:
    r = client.post(
        f"/api/v1/files/?process_in_background={'true' if background else 'false'}",
        files={"file": (name, text.encode(), "text/plain")},
        headers=account.headers,
    )
    assert r.status_code == 200, r.text
    return r.json()


def wait_done(client, account, file_id: str) -> str:
    for _ in range(200):
        status = client.get(
            f"/api/v1/files/{file_id}/process/status", headers=account.headers
        ).json()["status"]
        if status in ("completed", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("file never finished processing")


def collection(client, account, *file_ids: str, **extra) -> str:
    k = client.post(
        f"{K}/create", json={"name": "c", "description": "", **extra}, headers=account.headers
    ).json()
    for fid in file_ids:
        r = client.post(f"{K}/{k['id']}/file/add", json={"file_id": fid}, headers=account.headers)
        assert r.status_code == 200, r.text
    return k["id"]


@pytest.fixture
def three(client, alice):
    return [
        upload(client, alice, n, t)["id"]
        for n, t in (("zebra.txt", ZEBRA), ("engine.txt", ENGINE), ("bread.txt", BREAD))
    ]


def test_query_doc_shape_and_hit(client, alice, three):
    r = client.post(
        f"{R}/query/doc",
        json={"collection_name": f"file-{three[0]}", "query": "zebra convoy"},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"ids", "documents", "metadatas", "distances"}
    assert len(body["documents"]) == 1 and body["documents"][0] == [ZEBRA]
    meta = body["metadatas"][0][0]
    assert meta["file_id"] == three[0] and meta["name"] == "zebra.txt" and meta["hash"]
    assert 0 < body["distances"][0][0] <= 1


@pytest.mark.parametrize(
    "mode", [{}, {"hybrid": False}, {"hybrid": True, "hybrid_bm25_weight": 1.0}]
)
def test_query_collection_ranks_the_relevant_file_first_in_every_mode(client, alice, three, mode):
    kid = collection(client, alice, *three)
    for query, want in (
        ("why does sourdough rise? yeast fermentation", BREAD),
        ("how do turbofan engines reduce jet noise", ENGINE),
        ("Umbridge harbour indigo crates", ZEBRA),
    ):
        r = client.post(
            f"{R}/query/collection",
            json={"collection_names": [kid], "query": query, "k": 3, **mode},
            headers=alice.headers,
        )
        assert r.status_code == 200, r.text
        assert r.json()["documents"][0][0] == want, (query, mode)


def test_k_and_threshold(client, alice, three):
    kid = collection(client, alice, *three)
    body = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "engine bread zebra", "k": 2},
        headers=alice.headers,
    ).json()
    assert len(body["documents"][0]) == 2
    body = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "zebra", "k": 3, "r": 1.0},
        headers=alice.headers,
    ).json()
    assert all(d >= 1.0 for d in body["distances"][0])


def test_collections_of_other_users_are_404_until_shared(client, alice, bob, three):
    kid = collection(client, alice, *three)
    for form in (
        {"collection_name": f"file-{three[0]}", "query": "zebra"},
        {"collection_name": kid, "query": "zebra"},
    ):
        r = client.post(f"{R}/query/doc", json=form, headers=bob.headers)
        assert r.status_code == 404 and form["collection_name"] in r.json()["detail"]
    r = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "zebra"},
        headers=bob.headers,
    )
    assert r.status_code == 404
    # Bob cannot put Alice's file into his own collection either.
    mine = collection(client, bob)
    r = client.post(f"{K}/{mine}/file/add", json={"file_id": three[0]}, headers=bob.headers)
    assert r.status_code == 404 and three[0] in r.json()["detail"]

    client.post(
        f"{K}/{kid}/access/update",
        json={
            "access_grants": [
                {"principal_type": "user", "principal_id": bob.id, "permission": "read"}
            ]
        },
        headers=alice.headers,
    )
    r = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "zebra convoy"},
        headers=bob.headers,
    )
    assert r.status_code == 200 and r.json()["documents"][0][0] == ZEBRA
    # Reading a collection lets Bob read (and reference) its files.
    r = client.post(
        f"{R}/query/doc",
        json={"collection_name": f"file-{three[0]}", "query": "zebra"},
        headers=bob.headers,
    )
    assert r.status_code == 200
    listing = client.get(f"{K}/{kid}/files", headers=bob.headers).json()
    assert listing["total"] == 3 and {f["filename"] for f in listing["items"]} == {
        "zebra.txt",
        "engine.txt",
        "bread.txt",
    }


def test_unknown_collection_and_bad_bodies(client, alice):
    r = client.post(
        f"{R}/query/doc", json={"collection_name": "nope", "query": "x"}, headers=alice.headers
    )
    assert r.status_code == 404 and "nope" in r.json()["detail"]
    for body in (
        {"collection_name": "a b", "query": "x"},
        {"collection_name": "x"},
        {"collection_name": "x", "query": "q", "k": 0},
    ):
        r = client.post(f"{R}/query/doc", json=body, headers=alice.headers)
        assert r.status_code == 422 and r.json()["detail"]
    r = client.post(
        f"{R}/query/collection", json={"collection_names": [], "query": "x"}, headers=alice.headers
    )
    assert r.status_code == 422


def test_add_failed_file_is_400_with_its_error(client, alice):
    f = upload(client, alice, "empty.txt", "   ", background=True)
    assert wait_done(client, alice, f["id"]) == "failed"
    kid = collection(client, alice)
    r = client.post(f"{K}/{kid}/file/add", json={"file_id": f["id"]}, headers=alice.headers)
    assert r.status_code == 400 and f["id"] in r.json()["detail"]


def test_duplicate_content_is_refused(client, alice):
    a = upload(client, alice, "a.txt", ZEBRA)["id"]
    b = upload(client, alice, "b.txt", ZEBRA)["id"]
    kid = collection(client, alice, a)
    r = client.post(f"{K}/{kid}/file/add", json={"file_id": b}, headers=alice.headers)
    assert r.status_code == 400 and r.json()["detail"] == DUPLICATE_CONTENT
    assert (
        client.post(f"{K}/{kid}/file/add", json={"file_id": a}, headers=alice.headers).status_code
        == 200
    )  # idempotent


def test_batch_add_links_good_files_and_reports_bad_ones(client, alice, three):
    kid = collection(client, alice)
    r = client.post(
        f"{K}/{kid}/files/batch/add",
        json=[{"file_id": three[0]}, {"file_id": "missing"}, {"file_id": three[1]}],
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert {f["id"] for f in body["files"]} == {three[0], three[1]}
    assert body["warnings"]["errors"] == ["missing: File missing not found"]


def test_remove_file_deletes_it_by_default_and_keeps_it_when_asked(client, alice, three):
    kid = collection(client, alice, *three)
    r = client.post(
        f"{K}/{kid}/file/remove?delete_file=false",
        json={"file_id": three[0]},
        headers=alice.headers,
    )
    assert r.status_code == 200 and three[0] not in {f["id"] for f in r.json()["files"]}
    assert client.get(f"/api/v1/files/{three[0]}", headers=alice.headers).status_code == 200
    r = client.post(f"{K}/{kid}/file/remove", json={"file_id": three[1]}, headers=alice.headers)
    assert r.status_code == 200
    assert client.get(f"/api/v1/files/{three[1]}", headers=alice.headers).status_code == 404
    r = client.post(f"{K}/{kid}/file/remove", json={"file_id": three[1]}, headers=alice.headers)
    assert r.status_code == 404
    # What is no longer in the collection is no longer found through it.
    body = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "zebra engine", "k": 5},
        headers=alice.headers,
    ).json()
    assert body["documents"][0] == [BREAD] or set(body["documents"][0]) == {BREAD}


def test_reset_and_delete_keep_or_drop_files(client, alice, three):
    kid = collection(client, alice, three[0])
    r = client.post(f"{K}/{kid}/reset", headers=alice.headers)
    assert r.status_code == 200 and r.json()["files"] == []
    assert (
        client.get(f"/api/v1/files/{three[0]}", headers=alice.headers).status_code == 404
    )  # no retention
    kid = collection(client, alice, three[1])
    assert client.delete(f"{K}/{kid}/delete", headers=alice.headers).json() is True
    assert (
        client.get(f"/api/v1/files/{three[1]}", headers=alice.headers).status_code == 200
    )  # files survive


def test_process_text_into_a_collection_and_alone(client, alice, bob):
    kid = collection(client, alice)
    r = client.post(
        f"{R}/process/text",
        json={"name": "note", "content": ZEBRA, "collection_name": kid},
        headers=alice.headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["collection_name"] == kid and r.json()["content"] == ZEBRA
    body = client.post(
        f"{R}/query/doc", json={"collection_name": kid, "query": "zebra"}, headers=alice.headers
    ).json()
    assert body["documents"][0] == [ZEBRA]

    r = client.post(
        f"{R}/process/text", json={"name": "solo", "content": BREAD}, headers=alice.headers
    )
    name = r.json()["collection_name"]
    assert name.startswith("file-")
    assert client.post(
        f"{R}/query/doc", json={"collection_name": name, "query": "bread"}, headers=alice.headers
    ).json()["documents"][0] == [BREAD]

    # Into someone else's collection: refused before anything is written.
    r = client.post(
        f"{R}/process/text",
        json={"name": "x", "content": "x", "collection_name": kid},
        headers=bob.headers,
    )
    assert r.status_code == 404
    assert client.get("/api/v1/files/", headers=bob.headers).json()["total"] == 0


def test_process_file_indexes_a_stored_file(client, alice):
    r = client.post(
        "/api/v1/files/?process=false",
        files={"file": ("later.txt", ENGINE.encode(), "text/plain")},
        headers=alice.headers,
    )
    fid = r.json()["id"]
    kid = collection(client, alice)
    r = client.post(
        f"{R}/process/file", json={"file_id": fid, "collection_name": kid}, headers=alice.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["content"] == ENGINE and r.json()["collection_name"] == kid
    body = client.post(
        f"{R}/query/doc", json={"collection_name": kid, "query": "turbofan"}, headers=alice.headers
    ).json()
    assert body["documents"][0] == [ENGINE]


def test_config_is_admin_only_and_top_k_applies(client, admin, alice, three):
    assert client.get(f"{R}/config", headers=alice.headers).status_code == 401
    cfg = client.get(f"{R}/config", headers=admin.headers).json()
    assert (
        cfg["TOP_K"] == 3
        and cfg["ENABLE_RAG_HYBRID_SEARCH"] is True
        and cfg["RAG_TEMPLATE"].startswith("### Task:")
    )
    kid = collection(client, alice, *three)
    r = client.post(
        f"{R}/config/update", json={"TOP_K": 1, "unknown_key": 1}, headers=admin.headers
    )
    assert r.status_code == 200 and r.json()["TOP_K"] == 1
    body = client.post(
        f"{R}/query/collection",
        json={"collection_names": [kid], "query": "zebra engine bread"},
        headers=alice.headers,
    ).json()
    assert len(body["documents"][0]) == 1
    r = client.post(f"{R}/config/update", json={"TOP_K": "lots"}, headers=admin.headers)
    assert r.status_code == 400 and r.json()["detail"]
    assert client.get(f"{R}/config", headers=admin.headers).json()["TOP_K"] == 1


def test_fusion_mode_is_an_admin_setting_that_changes_the_order(client, admin, alice):
    """Both modes answer with the same chunks (a long file of several chunks and a one-chunk
    file), each in its own order with relevances sorted in (0, 1]; per document, the file that
    matches the query best in both lists comes first, its second chunk at half its relevance.
    An unknown mode is refused with a 400 naming the setting, and the last valid one stays;
    0.3.0's "blend" is read as "document"."""
    long_file = upload(client, alice, "long.txt", (ENGINE + " ") * 12 + "\n\n" + BREAD * 6)
    short_file = upload(client, alice, "short.txt", ZEBRA)
    kid = collection(client, alice, long_file["id"], short_file["id"])
    answers = {}
    for mode in ("chunk", "document"):
        r = client.post(f"{R}/config/update", json={"HYBRID_FUSION": mode}, headers=admin.headers)
        assert r.status_code == 200 and r.json()["HYBRID_FUSION"] == mode
        body = client.post(
            f"{R}/query/collection",
            json={"collection_names": [kid], "query": "turbofan engines jet noise", "k": 10},
            headers=alice.headers,
        ).json()
        answers[mode] = body
        assert body["distances"][0] == sorted(body["distances"][0], reverse=True)
        assert 0 < body["distances"][0][0] <= 1
    assert sorted(answers["chunk"]["ids"][0]) == sorted(answers["document"]["ids"][0])
    by_document = answers["document"]
    files = [m["file_id"] for m in by_document["metadatas"][0]]
    assert files[:2] == [long_file["id"], long_file["id"]], files
    first, second = by_document["distances"][0][:2]
    assert first == 1.0 and second == 0.5
    r = client.post(f"{R}/config/update", json={"HYBRID_FUSION": "mixed"}, headers=admin.headers)
    assert r.status_code == 400 and "HYBRID_FUSION" in str(r.json()["detail"])
    assert client.get(f"{R}/config", headers=admin.headers).json()["HYBRID_FUSION"] == "document"
    r = client.post(f"{R}/config/update", json={"HYBRID_FUSION": "blend"}, headers=admin.headers)
    assert r.status_code == 200 and r.json()["HYBRID_FUSION"] == "document"


def test_embedding_config(client, admin, alice):
    assert client.get(f"{R}/embedding", headers=alice.headers).status_code == 401
    cfg = client.get(f"{R}/embedding", headers=admin.headers).json()
    assert cfg["RAG_EMBEDDING_MODEL"].endswith("all-MiniLM-L6-v2")
    assert (
        client.post(
            f"{R}/embedding/update",
            json={"RAG_EMBEDDING_MODEL": cfg["RAG_EMBEDDING_MODEL"]},
            headers=admin.headers,
        ).status_code
        == 200
    )
    r = client.post(
        f"{R}/embedding/update", json={"RAG_EMBEDDING_MODEL": "other/model"}, headers=admin.headers
    )
    assert r.status_code == 400 and "restart" in r.json()["detail"]


def test_retrieval_alias_prefix(client, alice, three):
    r = client.post(
        "/retrieval/api/v1/query/doc",
        json={"collection_name": f"file-{three[0]}", "query": "zebra"},
        headers=alice.headers,
    )
    assert r.status_code == 200 and r.json()["documents"][0] == [ZEBRA]
