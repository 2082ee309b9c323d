"""Reading usage out of answers as they pass (`usage/tally.py`, `usage/observe.py`), and the
ledger's bounded queue (`usage/ledger.py`): byte-exact relaying, whatever the read boundaries."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator

import orjson
import pytest
from starlette.responses import Response, StreamingResponse

from wayline.core.db import Database
from wayline.core.usage import CHAT, CLIENT_CLOSED, CallUsage, Meter, UsageHub
from wayline.usage.ledger import Ledger
from wayline.usage.observe import OLLAMA, OPENAI, metered
from wayline.usage.tally import json_counts


class Recorder:
    def __init__(self) -> None:
        self.records: list[CallUsage] = []

    def observe(self, usage: CallUsage) -> None:
        self.records.append(usage)


def meter() -> tuple[Meter, Recorder]:
    hub, recorder = UsageHub(), Recorder()
    hub.register(recorder)
    return hub.start(CHAT, "model-a", "user-1", "key-1", "conn"), recorder


def chunk(text: str | None, *, sep: str = ", ", usage: object = ..., choices: bool = True) -> str:
    """One `chat.completion.chunk` event as a Python server formats it (spaces after `:`/`,`)."""
    body: dict[str, object] = {"id": "c1", "object": "chat.completion.chunk"}
    body["choices"] = [{"index": 0, "delta": {"content": text}}] if choices else []
    if usage is not ...:
        body["usage"] = usage
    return "data: " + orjson.dumps(body).decode().replace('":', '": ').replace(",", sep) + "\n\n"


def pieces(data: bytes, seed: int) -> list[bytes]:
    """`data` cut at random places, as reads off a socket might be."""
    rng, out, at = random.Random(seed), [], 0
    while at < len(data):
        size = rng.randint(1, 40)
        out.append(data[at : at + size])
        at += size
    return out


async def relayed(response: Response) -> bytes:
    assert isinstance(response, StreamingResponse)
    return b"".join([c async for c in response.body_iterator])


def streaming(parts: list[bytes]) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    return StreamingResponse(body(), media_type="text/event-stream")


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("newline", ["\n", "\r\n"])
async def test_asked_usage_is_stripped_byte_exact_across_any_read_boundary(
    seed: int, newline: str
) -> None:
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}
    words = ["Hello", " there", ' "usage": null?']  # the text itself must pass untouched
    asked = "".join(chunk(w, usage=None) for w in words) + chunk(None, usage=usage, choices=False)
    plain = "".join(chunk(w) for w in words)
    asked += "data: [DONE]\n\n"
    plain += "data: [DONE]\n\n"
    data = asked.replace("\n", newline).encode()
    m, recorder = meter()
    out = await relayed(
        metered(streaming(pieces(data, seed)), m, wire=OPENAI, prompt_tokens=lambda: 99, strip=True)
    )
    assert out == plain.replace("\n", newline).encode()
    [record] = recorder.records
    assert (record.prompt_tokens, record.completion_tokens, record.estimated) == (7, 3, False)
    assert record.status == 200 and record.time_to_first_token_ms is not None


async def test_a_client_that_asked_gets_the_stream_unchanged() -> None:
    usage = {"prompt_tokens": 2, "completion_tokens": 1}
    data = (chunk("hi", usage=None) + chunk(None, usage=usage, choices=False)).encode()
    m, recorder = meter()
    out = await relayed(
        metered(streaming(pieces(data, 1)), m, wire=OPENAI, prompt_tokens=lambda: 0)
    )
    assert out == data
    assert (recorder.records[0].prompt_tokens, recorder.records[0].completion_tokens) == (2, 1)


async def test_counts_on_an_answer_chunk_are_removed_from_it_only_when_asked_for() -> None:
    # A server that puts the counts on the last chunk of the answer itself (choices not empty).
    last = chunk("!", usage={"prompt_tokens": 4, "completion_tokens": 2})
    m, recorder = meter()
    out = await relayed(
        metered(streaming([last.encode()]), m, wire=OPENAI, prompt_tokens=lambda: 0, strip=True)
    )
    assert orjson.loads(out.removeprefix(b"data: ")) == {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": "!"}}],
    }
    assert recorder.records[0].completion_tokens == 2


async def test_no_counts_are_estimated_and_an_error_record_is_a_502() -> None:
    data = (chunk("abcdefgh") + 'data: {"error": {"message": "gone"}}\n\n').encode()
    m, recorder = meter()
    out = await relayed(metered(streaming([data]), m, wire=OPENAI, prompt_tokens=lambda: 5))
    assert out == data
    [record] = recorder.records
    assert (record.prompt_tokens, record.completion_tokens) == (5, 2)  # ceil(8 / 4)
    assert record.estimated and record.status == 502


async def test_a_client_that_leaves_is_a_499_with_what_came_so_far() -> None:
    m, recorder = meter()
    response = metered(
        streaming([chunk("abcd").encode(), chunk("efgh").encode()]),
        m,
        wire=OPENAI,
        prompt_tokens=lambda: 1,
    )
    body = response.body_iterator
    await body.__anext__()
    await body.aclose()
    [record] = recorder.records
    assert record.status == CLIENT_CLOSED and record.completion_tokens == 1


async def test_ollama_ndjson_passes_untouched_and_its_final_counts_are_read() -> None:
    lines = [
        {"message": {"content": "Hi"}, "done": False},
        {"message": {"content": ""}, "done": True, "prompt_eval_count": 11, "eval_count": 4},
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    m, recorder = meter()
    out = await relayed(
        metered(streaming(pieces(data, 3)), m, wire=OLLAMA, prompt_tokens=lambda: 0)
    )
    assert out == data
    assert (recorder.records[0].prompt_tokens, recorder.records[0].completion_tokens) == (11, 4)


def test_whole_answers_are_read_by_key() -> None:
    openai = (
        b'{"choices": [], "usage": {"prompt_tokens": 12,'
        b' "completion_tokens_details": {"x": 1}, "completion_tokens": 5}}'
    )
    assert json_counts(openai, ollama=False) == (12, 5)
    assert json_counts(
        b'{"data": [], "usage": {"prompt_tokens": 8, "total_tokens": 8}}', False
    ) == (8, 0)
    assert json_counts(b'{"usage": null}', ollama=False) is None
    assert json_counts(b'{"content": "say \\"usage\\": 1"}', ollama=False) is None
    assert json_counts(b'{"prompt_eval_count":3,"eval_count":9}', ollama=True) == (3, 9)
    assert json_counts(b'{"embedding": [0.1]}', ollama=True) is None


def test_the_meter_records_once() -> None:
    m, recorder = meter()
    m.finish(200)
    m.finish(500)
    assert [r.status for r in recorder.records] == [200]


def test_a_full_queue_drops_counts_and_logs_once(
    make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    ledger = Ledger(Database(make_settings()), capacity=3)
    m, _ = meter()
    record = m.finish(200)
    assert record is not None
    with caplog.at_level(logging.WARNING, "wayline.usage"):
        for _ in range(10):
            ledger.observe(record)
    assert (ledger.pending, ledger.dropped) == (3, 7)
    assert len([r for r in caplog.records if "queue full" in r.getMessage()]) == 1
