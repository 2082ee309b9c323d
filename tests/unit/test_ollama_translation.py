"""OpenAI ⇄ Ollama translation: pure functions, no network."""

from __future__ import annotations

import orjson

from wayline.providers.ollama_wire import (
    StreamTranslator,
    from_ollama_chat,
    to_ollama_chat,
    to_ollama_messages,
)


def test_every_sampling_parameter_maps_into_options() -> None:
    body = {
        "model": "llama3.1",
        "messages": [{"role": "user", "content": "hi"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "seed": 7,
        "stop": "END",
        "max_tokens": 64,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.25,
        "repeat_penalty": 1.1,
        "typical_p": 0.8,
        "num_ctx": 4096,
    }
    out = to_ollama_chat(body, "llama3.1:latest")
    assert out["model"] == "llama3.1:latest"
    assert out["stream"] is False
    assert out["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "min_p": 0.05,
        "seed": 7,
        "stop": ["END"],
        "num_predict": 64,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.25,
        "repeat_penalty": 1.1,
        "typical_p": 0.8,
        "num_ctx": 4096,
    }


def test_max_completion_tokens_and_explicit_options_win_in_order() -> None:
    out = to_ollama_chat(
        {
            "messages": [],
            "max_completion_tokens": 10,
            "options": {"num_predict": 20, "keep_alive": "5m"},
        },
        "m",
    )
    assert out["options"] == {"num_predict": 20}
    assert out["keep_alive"] == "5m"


def test_response_format_becomes_format() -> None:
    assert (
        to_ollama_chat({"messages": [], "response_format": {"type": "json_object"}}, "m")["format"]
        == "json"
    )
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}
    assert to_ollama_chat({"messages": [], "response_format": fmt}, "m")["format"] == schema
    assert "format" not in to_ollama_chat(
        {"messages": [], "response_format": {"type": "text"}}, "m"
    )


def test_images_tools_and_tool_calls_in_messages() -> None:
    messages = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
            ],
        },
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": '{"q": "cat"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a cat"},
    ]
    out = to_ollama_messages(messages)
    assert out[0] == {"role": "user", "content": "what is this?", "images": ["AAAA"]}
    assert out[1] == {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"function": {"name": "lookup", "arguments": {"q": "cat"}}}],
    }
    assert out[2] == {"role": "tool", "content": "a cat", "tool_name": "lookup"}
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}]
    assert (
        to_ollama_chat({"messages": messages, "tools": tools, "stream": True}, "m")["tools"]
        == tools
    )


def test_non_stream_response_with_usage_and_tool_calls() -> None:
    data = {
        "model": "llama3.1:latest",
        "done": True,
        "done_reason": "stop",
        "message": {
            "role": "assistant",
            "content": "",
            "thinking": "hmm",
            "tool_calls": [{"function": {"name": "lookup", "arguments": {"q": "cat"}}}],
        },
        "prompt_eval_count": 3,
        "eval_count": 5,
        "eval_duration": 1_000_000_000,
        "total_duration": 2_000_000_000,
    }
    out = from_ollama_chat(data, "llama3.1:latest")
    assert out["object"] == "chat.completion" and out["model"] == "llama3.1:latest"
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["reasoning_content"] == "hmm"
    call = choice["message"]["tool_calls"][0]
    assert call["type"] == "function" and call["function"]["name"] == "lookup"
    assert orjson.loads(call["function"]["arguments"]) == {"q": "cat"}
    assert (
        out["usage"]["prompt_tokens"] == 3
        and out["usage"]["completion_tokens"] == 5
        and out["usage"]["total_tokens"] == 8
    )
    assert out["usage"]["response_token/s"] == 5.0
    assert out["usage"]["approximate_total"] == "0h0m2s"


def test_stream_translation_shares_id_and_ends_with_finish_and_usage() -> None:
    t = StreamTranslator("llama3.1:latest")
    lines = [
        {"message": {"role": "assistant", "content": "Hel"}, "done": False},
        {"message": {"role": "assistant", "content": "lo"}, "done": False},
        {
            "message": {"role": "assistant", "content": ""},
            "done": True,
            "done_reason": "length",
            "prompt_eval_count": 2,
            "eval_count": 2,
        },
    ]
    chunks = [c for line in lines for c in t.translate(line)]
    assert {c["id"] for c in chunks} == {t.id}
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "Hel"}
    assert chunks[1]["choices"][0]["delta"] == {"content": "lo"}
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"]["total_tokens"] == 4


def test_stream_tool_calls_finish_with_tool_calls() -> None:
    t = StreamTranslator("m")
    chunks = t.translate(
        {
            "message": {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"function": {"name": "f", "arguments": {}}}],
            },
            "done": False,
        }
    )
    chunks += t.translate(
        {"message": {"role": "assistant", "content": ""}, "done": True, "done_reason": "stop"}
    )
    assert chunks[0]["choices"][0]["delta"]["tool_calls"][0]["function"] == {
        "name": "f",
        "arguments": "{}",
    }
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
