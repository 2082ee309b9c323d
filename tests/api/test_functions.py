"""Function models: pipes and manifolds created through `/api/v1/functions`, listed and chatting."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Account
from tests.fakes.sse import events
from wayline.chat.service import ChatService

SINGLE = '''"""
title: Shouter
"""
from pydantic import BaseModel


class Pipe:
    class Valves(BaseModel):
        suffix: str = "!"

    def __init__(self):
        self.valves = self.Valves()

    def pipe(self, body: dict, __user__: dict, __files__: list) -> str:
        text = body["messages"][-1]["content"].upper()
        return (
            f"{text}{self.valves.suffix} for {__user__['name']} "
            f"model={body['model']} files={len(__files__)}"
        )
'''

MANIFOLD = """
import asyncio


class Pipe:
    def __init__(self):
        self.name = "Multi: "

    async def pipes(self):
        return [{"id": "fast", "name": "Fast"}, {"id": "slow", "name": "Slow"}]

    async def pipe(self, body, __metadata__=None):
        words = ["sub", body["model"].split(".")[-1], "says", body["messages"][-1]["content"]]
        for word in words:
            await asyncio.sleep(0)
            yield word + " "
"""

SYNC_GENERATOR = """
class Pipe:
    def pipe(self, body):
        yield "data: " + '{"choices": [{"index": 0, "delta": {"content": "raw "}}]}'
        yield {"choices": [{"index": 0, "delta": {"content": "dict "}}]}
        yield "text"
"""

DICT_RESULT = """
class Pipe:
    async def pipe(self, body):
        return {"id": "x", "object": "chat.completion", "model": body["model"],
                "choices": [{"index": 0,
                             "message": {"role": "assistant", "content": "as dict"},
                             "finish_reason": "stop"}]}
"""

FAILING = """
class Pipe:
    def pipe(self, body):
        raise RuntimeError("pipe blew up")
"""


def create(
    client: TestClient, admin: Account, fid: str, content: str, activate: bool = True
) -> dict[str, Any]:
    resp = client.post(
        "/api/v1/functions/create",
        headers=admin.headers,
        json={"id": fid, "name": fid.title(), "content": content, "meta": {"description": "d"}},
    )
    assert resp.status_code == 200, resp.text
    if activate:
        assert (
            client.post(f"/api/v1/functions/id/{fid}/toggle", headers=admin.headers).json()[
                "is_active"
            ]
            is True
        )
    return resp.json()


def streamed_text(text: str) -> str:
    return "".join(
        (e["choices"][0]["delta"].get("content") or "")
        for e in events(text)
        if isinstance(e, dict) and e.get("choices")
    )


def chat(client: TestClient, account: Account, model: str, stream: bool = False, **extra: Any):
    return client.post(
        "/api/chat/completions",
        headers=account.headers,
        json={
            "model": model,
            "stream": stream,
            "messages": [{"role": "user", "content": "hello"}],
            **extra,
        },
    )


def test_single_pipe_lifecycle(client: TestClient, admin: Account, alice: Account) -> None:
    created = create(client, admin, "shouter", SINGLE, activate=False)
    assert (
        created["type"] == "pipe"
        and created["is_active"] is False
        and created["user_id"] == admin.id
    )
    # New functions are inactive: not a model until toggled on.
    assert "shouter" not in [
        m["id"] for m in client.get("/api/models", headers=alice.headers).json()["data"]
    ]
    client.post("/api/v1/functions/id/shouter/toggle", headers=admin.headers)

    model = next(
        m
        for m in client.get("/api/models", headers=alice.headers).json()["data"]
        if m["id"] == "shouter"
    )
    assert (
        model["pipe"] == {"type": "pipe"}
        and model["owned_by"] == "openai"
        and model["name"] == "Shouter"
    )

    resp = chat(client, alice, "shouter")
    assert resp.status_code == 200, resp.text
    assert (
        resp.json()["choices"][0]["message"]["content"] == "HELLO! for Alice model=shouter files=0"
    )
    resp = chat(client, alice, "shouter", stream=True)
    assert streamed_text(resp.text) == "HELLO! for Alice model=shouter files=0"
    assert (
        events(resp.text)[-1] == "[DONE]"
        and events(resp.text)[-2]["choices"][0]["finish_reason"] == "stop"
    )

    # Valves: stored, validated and applied to the running pipe.
    assert client.get("/api/v1/functions/id/shouter/valves", headers=admin.headers).json() is None
    assert (
        client.get("/api/v1/functions/id/shouter/valves/spec", headers=admin.headers).json()[
            "properties"
        ]["suffix"]["default"]
        == "!"
    )
    updated = client.post(
        "/api/v1/functions/id/shouter/valves/update", headers=admin.headers, json={"suffix": "?!"}
    )
    assert updated.status_code == 200 and updated.json() == {"suffix": "?!"}
    assert (
        chat(client, alice, "shouter")
        .json()["choices"][0]["message"]["content"]
        .startswith("HELLO?!")
    )
    bad = client.post(
        "/api/v1/functions/id/shouter/valves/update",
        headers=admin.headers,
        json={"suffix": {"x": 1}},
    )
    assert bad.status_code == 400 and "suffix" in bad.json()["detail"]

    # Update the source: the new code answers.
    new_source = SINGLE.replace(".upper()", ".title()")
    resp = client.post(
        "/api/v1/functions/id/shouter/update",
        headers=admin.headers,
        json={"id": "shouter", "name": "Shouter", "content": new_source},
    )
    assert resp.status_code == 200 and resp.json()["content"] == new_source
    assert (
        chat(client, alice, "shouter")
        .json()["choices"][0]["message"]["content"]
        .startswith("Hello?!")
    )

    listed = client.get("/api/v1/functions/", headers=alice.headers).json()
    assert [f["id"] for f in listed] == ["shouter"] and "content" not in listed[0]
    assert (
        client.get("/api/v1/functions/id/shouter", headers=admin.headers).json()["content"]
        == new_source
    )

    assert (
        client.delete("/api/v1/functions/id/shouter/delete", headers=admin.headers).json() is True
    )
    assert chat(client, alice, "shouter").status_code == 404
    assert client.get("/api/v1/functions/id/shouter", headers=admin.headers).status_code == 404


def test_manifold_pipe(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "multi", MANIFOLD)
    models = {m["id"]: m for m in client.get("/api/models", headers=alice.headers).json()["data"]}
    assert (
        models["multi.fast"]["name"] == "Multi: Fast"
        and models["multi.slow"]["name"] == "Multi: Slow"
    )
    assert "multi" not in models
    resp = chat(client, alice, "multi.slow")
    assert (
        resp.status_code == 200
        and resp.json()["choices"][0]["message"]["content"] == "sub slow says hello "
    )
    resp = chat(client, alice, "multi.fast", stream=True)
    assert streamed_text(resp.text) == "sub fast says hello "


def test_sync_generator_and_dict_results(
    client: TestClient, admin: Account, alice: Account
) -> None:
    create(client, admin, "gen", SYNC_GENERATOR)
    create(client, admin, "asdict", DICT_RESULT)
    assert streamed_text(chat(client, alice, "gen", stream=True).text) == "raw dict text"
    assert chat(client, alice, "gen").json()["choices"][0]["message"]["content"] == "raw dict text"
    assert chat(client, alice, "asdict").json()["choices"][0]["message"]["content"] == "as dict"


def test_pipe_failure_is_reported(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "failing", FAILING)
    resp = chat(client, alice, "failing")
    assert (
        resp.status_code == 502
        and resp.json()["detail"] == "Function 'failing' failed: RuntimeError: pipe blew up"
    )


def test_preset_over_a_pipe_and_files_reach_it(
    client: TestClient, admin: Account, alice: Account
) -> None:
    create(client, admin, "shouter", SINGLE)
    form = {
        "id": "polite",
        "base_model_id": "shouter",
        "name": "Polite",
        "params": {"system": "be nice"},
    }
    assert client.post("/api/v1/models/create", headers=alice.headers, json=form).status_code == 200
    assert (
        chat(client, alice, "polite").json()["choices"][0]["message"]["content"]
        == "HELLO! for Alice model=shouter files=0"
    )

    class Stub:
        async def augment(self, user: Any, body: dict, files: list) -> list:
            return [{"source": {"id": "f1", "name": "n"}, "document": ["d"], "metadata": [{}]}]

    client.app.state.wayline.get(ChatService).augmenter = Stub()
    resp = chat(client, alice, "shouter", files=[{"type": "file", "id": "f1"}])
    assert resp.json()["sources"][0]["source"]["id"] == "f1"
    assert resp.json()["choices"][0]["message"]["content"].endswith("files=1")
    evts = events(
        chat(client, alice, "shouter", stream=True, files=[{"type": "file", "id": "f1"}]).text
    )
    assert evts[0]["choices"] == [] and evts[0]["sources"] and evts[0]["id"] == evts[1]["id"]


@pytest.mark.parametrize(
    "form, fragment",
    [
        (
            {"id": "bad-id", "name": "x", "content": SINGLE},
            "Only alphanumeric characters and underscores",
        ),
        ({"id": "syntax", "name": "x", "content": "class Pipe(:\n  pass"}, "SyntaxError"),
        (
            {
                "id": "missing",
                "name": "x",
                "content": (
                    '"""\nrequirements: leftpad-xyz\n"""\nimport leftpad_xyz\nclass Pipe: pass'
                ),
            },
            "No module named 'leftpad_xyz'",
        ),
        ({"id": "noclass", "name": "x", "content": "x = 1"}, "No Function class"),
        (
            {"id": "boom", "name": "x", "content": "raise ValueError('at import')"},
            "ValueError: at import",
        ),
    ],
)
def test_bad_function_sources_are_refused(
    client: TestClient, admin: Account, form: dict, fragment: str
) -> None:
    resp = client.post("/api/v1/functions/create", headers=admin.headers, json=form)
    assert resp.status_code in (400, 422), resp.text
    assert fragment in str(resp.json()["detail"])
    assert client.get("/api/v1/functions/list", headers=admin.headers).json() == []


def test_missing_requirement_names_the_declared_package(client: TestClient, admin: Account) -> None:
    source = '"""\nrequirements: leftpad-xyz\n"""\nimport leftpad_xyz\nclass Pipe: pass'
    resp = client.post(
        "/api/v1/functions/create",
        headers=admin.headers,
        json={"id": "req", "name": "x", "content": source},
    )
    assert "leftpad-xyz" in resp.json()["detail"] and "never installs" in resp.json()["detail"]


def test_duplicate_id_and_bad_update(client: TestClient, admin: Account) -> None:
    create(client, admin, "shouter", SINGLE)
    dup = client.post(
        "/api/v1/functions/create",
        headers=admin.headers,
        json={"id": "shouter", "name": "x", "content": SINGLE},
    )
    assert dup.status_code == 400 and "already registered" in dup.json()["detail"]
    bad = client.post(
        "/api/v1/functions/id/shouter/update",
        headers=admin.headers,
        json={"id": "shouter", "name": "x", "content": "def ("},
    )
    assert bad.status_code == 400 and "SyntaxError" in bad.json()["detail"]
    assert (
        client.get("/api/v1/functions/id/shouter", headers=admin.headers).json()["content"]
        == SINGLE
    )


def test_functions_are_admin_only(client: TestClient, admin: Account, alice: Account) -> None:
    create(client, admin, "shouter", SINGLE)
    form = {"id": "mine", "name": "x", "content": SINGLE}
    for method, path, body in [
        ("POST", "/api/v1/functions/create", form),
        ("GET", "/api/v1/functions/id/shouter", None),
        ("POST", "/api/v1/functions/id/shouter/update", form),
        ("POST", "/api/v1/functions/id/shouter/toggle", None),
        ("DELETE", "/api/v1/functions/id/shouter/delete", None),
        ("GET", "/api/v1/functions/id/shouter/valves", None),
        ("POST", "/api/v1/functions/id/shouter/valves/update", {"suffix": "x"}),
        ("GET", "/api/v1/functions/list", None),
    ]:
        resp = client.request(method, path, headers=alice.headers, json=body)
        assert resp.status_code == 401, (path, resp.text)
    assert (
        client.get("/api/v1/functions/id/shouter", headers=admin.headers).json()["content"]
        == SINGLE
    )
    assert client.get("/api/v1/functions/id/nope", headers=admin.headers).status_code == 404


def test_a_broken_manifold_does_not_hide_other_models(
    client: TestClient, admin: Account, alice: Account
) -> None:
    create(
        client,
        admin,
        "broken",
        "class Pipe:\n"
        "    def pipes(self):\n"
        "        raise RuntimeError('no list')\n"
        "    def pipe(self, body):\n"
        "        return 'x'\n",
    )
    create(client, admin, "shouter", SINGLE)
    ids = [m["id"] for m in client.get("/api/models", headers=alice.headers).json()["data"]]
    assert "shouter" in ids and not any(i.startswith("broken") for i in ids)
